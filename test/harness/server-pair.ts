/**
 * A server certificate and key for localhost/127.0.0.1/::1 signed by a test CA with exactly the
 * validity window asked for: an older one, an expired one, one not valid yet. What the reload
 * tests write over the files a gateway (or its admin listener) serves.
 */
import { X509Certificate } from 'node:crypto';
import type { CertificateAuthority } from '../../src/ca/index.js';
import { buildServerCertificate, certificatePem, randomSerial } from '../../src/ca/certificate-profiles.js';
import { parseHosts } from '../../src/ca/inputs.js';
import { exportPrivateKeyPem, generateKeyPair } from '../../src/ca/keys.js';

export interface ServerPair {
  certPem: string;
  keyPem: string;
  /** As Node's getPeerCertificate().fingerprint256 gives it. */
  fingerprint: string;
}

const DAY_MS = 86_400_000;

/** Default window: from a minute ago for 30 days. */
export async function serverPair(ca: CertificateAuthority, window: { notBefore?: Date; notAfter?: Date } = {}): Promise<ServerPair> {
  const notBefore = window.notBefore ?? new Date(Date.now() - 60_000);
  const notAfter = window.notAfter ?? new Date(notBefore.getTime() + 30 * DAY_MS);
  const pair = await generateKeyPair('ec-p256');
  const cert = await buildServerCertificate(ca, {
    hosts: parseHosts(['localhost', '127.0.0.1', '::1']),
    publicKey: pair.publicKey,
    rsa: false,
    serial: randomSerial(),
    notBefore,
    notAfter,
  });
  // Followed by the intermediate for a two-level CA, as issue-server writes server.crt.
  const certPem = certificatePem(cert) + ca.chainPem;
  return { certPem, keyPem: exportPrivateKeyPem(pair.privateKey), fingerprint: new X509Certificate(certPem).fingerprint256 };
}
