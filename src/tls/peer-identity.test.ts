import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import * as x509 from '../ca/x509.js';
import { generateKeyPair } from '../ca/keys.js';
import { certificateFacts, certificateUsage } from './peer-identity.js';
import { KEY_USAGE, OID_CLIENT_AUTH } from './cert-usage.js';

async function clientDer(): Promise<Buffer> {
  const keys = await generateKeyPair('ec-p256');
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '0a1b',
    name: 'CN=app, OU=production',
    notBefore: new Date('2026-01-01'),
    notAfter: new Date('2027-01-01'),
    keys,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    extensions: [new x509.KeyUsagesExtension(KEY_USAGE.digitalSignature, true), new x509.ExtendedKeyUsageExtension([OID_CLIENT_AUTH])],
  });
  return Buffer.from(cert.rawData);
}

/** What getPeerCertificate(false) gives, with a `raw` that counts how often it is read. */
function peer(der: Buffer): { cert: PeerCertificate; rawReads: () => number } {
  const x = new X509Certificate(der);
  let reads = 0;
  const cert = {
    subject: { CN: 'app', OU: 'production' },
    issuer: { CN: 'app' },
    serialNumber: x.serialNumber,
    fingerprint256: x.fingerprint256,
    valid_from: x.validFrom,
    valid_to: x.validTo,
    get raw() {
      reads += 1;
      return der;
    },
  } as unknown as PeerCertificate;
  return { cert, rawReads: () => reads };
}

test('the purpose extensions are read only when asked for, and once per certificate', async () => {
  const der = await clientDer();
  const p = peer(der);
  const facts = certificateFacts(p.cert);
  assert.equal(facts?.identity?.cn, 'app');
  assert.equal(facts?.identity?.serial, '0a1b', 'the serial in whole bytes, as pgmoat list prints it');
  assert.equal(p.rawReads(), 0, 'identity alone does not decode the DER');
  assert.deepEqual(certificateUsage(p.cert), { ca: false, keyUsage: KEY_USAGE.digitalSignature, extendedKeyUsage: [OID_CLIENT_AUTH] });
  assert.equal(p.rawReads(), 1);
  // Another connection of the same certificate: a new PeerCertificate object, the same facts.
  const again = peer(der);
  assert.equal(certificateUsage(again.cert), certificateUsage(p.cert));
  assert.equal(certificateFacts(again.cert)?.identity, facts?.identity);
  assert.equal(again.rawReads() + p.rawReads(), 1, 'read once');
});

test('no certificate, or one whose DER cannot be read, has no usage (refused as unreadable)', async () => {
  assert.equal(certificateUsage(undefined), undefined);
  assert.equal(certificateUsage({} as PeerCertificate), undefined);
  const der = await clientDer();
  const p = peer(der);
  const broken = { ...p.cert, fingerprint256: `${p.cert.fingerprint256}:broken`, raw: der.subarray(0, 100) } as PeerCertificate;
  assert.equal(certificateUsage(broken), undefined);
  assert.equal(certificateFacts(broken)?.identity?.cn, 'app', 'the identity is still known, for the refusal');
});
