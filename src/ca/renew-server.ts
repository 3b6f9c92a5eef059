/**
 * Renewing the gateway's own server certificate in-process, when the gateway runs the renewal
 * service of the CA that issued it: a new key made here, the identity of the old certificate
 * copied exactly (subject, SANs, the server profile), the lifetime kept, and the new certificate
 * recorded in the inventory under the CA lock. No file of the gateway is written here: the caller
 * replaces the pair (src/renewal/pair-files.ts) once the inventory holds it.
 */
import * as x509 from './x509.js';
import type { CertificateAuthority } from './authority.js';
import { withCaTransaction } from './ca-transaction.js';
import { keyTypeOfCertificate } from './certificate-facts.js';
import { certificatePem } from './certificate-profiles.js';
import { issuedEntry, markSuperseded, unusedSerial } from './inventory.js';
import { renewedValidity } from './validity.js';
import { exportPrivateKeyPem, generateKeyPair } from './keys.js';

import { pemBlocks } from '@pgmoat/client/internal';
import { normalizeSerial } from '../util/serial.js';

const OID_SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const OID_KEY_USAGE = '2.5.29.15';
const OID_EXT_KEY_USAGE = '2.5.29.37';
const OID_SUBJECT_ALT_NAME = '2.5.29.17';

export type ServerCertificateOrigin =
  | { ours: true; cert: x509.X509Certificate; serial: string; cn: string }
  | { ours: false; reason: string };

function leafOf(certPem: string): x509.X509Certificate | undefined {
  const first = pemBlocks(certPem).find((b) => b.label === 'CERTIFICATE');
  if (!first) return undefined;
  try {
    return new x509.X509Certificate(Uint8Array.from(first.der));
  } catch {
    return undefined;
  }
}

/**
 * Whether the leaf of `certPem` was signed by this CA's signing certificate (the intermediate of a
 * two-level CA) and is a server certificate. Decided by the signature, never by a name.
 */
export async function serverCertificateOrigin(ca: CertificateAuthority, certPem: string): Promise<ServerCertificateOrigin> {
  const cert = leafOf(certPem);
  if (!cert) return { ours: false, reason: 'the file holds no certificate that parses' };
  let signed = false;
  if (Buffer.from(cert.issuerName.toArrayBuffer()).equals(Buffer.from(ca.cert.subjectName.toArrayBuffer()))) {
    try {
      signed = await cert.verify({ publicKey: ca.cert.publicKey, signatureOnly: true });
    } catch {
      signed = false;
    }
  }
  if (!signed) return { ours: false, reason: `it was not signed by the CA in ${ca.dir}` };
  if (cert.getExtension(x509.BasicConstraintsExtension)?.ca) return { ours: false, reason: 'it is a CA certificate' };
  const eku = cert.getExtension(x509.ExtendedKeyUsageExtension);
  if (!eku || !eku.usages.map(String).includes(OID_SERVER_AUTH)) return { ours: false, reason: 'it is not a server certificate (no serverAuth)' };
  const cn = cert.subjectName.getField('CN')[0] ?? '';
  return { ours: true, cert, serial: normalizeSerial(cert.serialNumber), cn };
}

export interface RenewedServerCertificate {
  oldSerial: string;
  serial: string;
  cn: string;
  notBefore: Date;
  notAfter: Date;
  /** The new leaf followed by the intermediate of a two-level CA: what the gateway sends. */
  certPem: string;
  /** The new key, PKCS#8 PEM (encrypted with `keyPassphrase` when one is given). */
  keyPem: string;
}

export async function renewServerCertificate(
  ca: CertificateAuthority,
  current: Extract<ServerCertificateOrigin, { ours: true }>,
  opts: { keyPassphrase?: string | undefined } = {},
): Promise<RenewedServerCertificate> {
  const old = current.cert;
  const pair = await generateKeyPair(keyTypeOfCertificate(old.toString('pem')) ?? 'ec-p256');
  const { value } = await withCaTransaction(ca, async (tx) => {
    const { notBefore, notAfter } = renewedValidity(old, tx.now, ca.cert.notAfter);
    const serial = unusedSerial(tx.inventory);
    // Copied as signed before: the identity (subject, every SAN) and the profile stay the old one's.
    const copied = [OID_KEY_USAGE, OID_EXT_KEY_USAGE, OID_SUBJECT_ALT_NAME]
      .map((oid) => old.getExtension(oid))
      .filter((e): e is NonNullable<typeof e> => e !== null)
      .map((e) => new x509.Extension(e.type, e.critical, e.value));
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial,
      subject: old.subjectName.toString(),
      issuer: ca.cert.subjectName.toString(),
      notBefore,
      notAfter,
      publicKey: pair.publicKey,
      signingKey: ca.key,
      signingAlgorithm: ca.algorithm,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        ...copied,
        await x509.SubjectKeyIdentifierExtension.create(pair.publicKey),
        await x509.AuthorityKeyIdentifierExtension.create(ca.cert),
      ],
    });
    const leafPem = certificatePem(cert);
    // The certificate it replaces shows as superseded in `pgmoat list`, as after issue-server.
    markSuperseded(tx.inventory.certificates.filter((e) => e.kind === 'server' && normalizeSerial(e.serial) === current.serial), serial, tx.now);
    tx.inventory.certificates.push(issuedEntry({ kind: 'server', name: current.cn || 'localhost', environment: '', serial, notBefore, notAfter, certPem: leafPem }));
    return { serial, notBefore, notAfter, leafPem };
  });
  return {
    oldSerial: current.serial,
    serial: value.serial,
    cn: current.cn,
    notBefore: value.notBefore,
    notAfter: value.notAfter,
    certPem: value.leafPem + ca.chainPem,
    keyPem: exportPrivateKeyPem(pair.privateKey, opts.keyPassphrase),
  };
}
