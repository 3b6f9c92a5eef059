import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import type { PeerCertificate } from 'node:tls';
import * as x509 from '../ca/x509.js';
import { generateKeyPair } from '../ca/keys.js';
import { certificateFacts, certificateUsage, identityName, parseSubjectAltName, sanList } from './peer-identity.js';
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

test('subjectaltname: quoted values are read back whole, so a crafted SAN cannot pass for two', () => {
  // What Node 20 writes for a URI SAN holding ", DNS:admin.example" (checked with openssl + X509Certificate).
  const node = 'URI:"spiffe://a.example/ns/x\\u002c DNS:admin.example", URI:spiffe://prod.example/ns/prod/sa/api, DNS:api.prod.svc, IP Address:10.0.0.1, email:a@b.c';
  assert.deepEqual(parseSubjectAltName(node), [
    { type: 'URI', value: 'spiffe://a.example/ns/x, DNS:admin.example' },
    { type: 'URI', value: 'spiffe://prod.example/ns/prod/sa/api' },
    { type: 'DNS', value: 'api.prod.svc' },
    { type: 'IP Address', value: '10.0.0.1' },
    { type: 'email', value: 'a@b.c' },
  ]);
  assert.deepEqual(parseSubjectAltName(undefined), []);
  // Not understood past a point: nothing invented after it.
  assert.deepEqual(parseSubjectAltName('DNS:a, URI:"unterminated, DNS:b'), [{ type: 'DNS', value: 'a' }]);
});

function sanPeer(subject: Record<string, string>, subjectaltname: string | undefined, fingerprint: string): PeerCertificate {
  return {
    subject,
    issuer: { CN: 'spire' },
    serialNumber: '0C',
    fingerprint256: fingerprint,
    valid_from: 'Jan  1 00:00:00 2026 GMT',
    valid_to: 'Jan  1 00:00:00 2027 GMT',
    subjectaltname,
  } as unknown as PeerCertificate;
}

test('a certificate without CN is known by its SANs, and has no environment', () => {
  // SPIRE's X.509-SVID: no CN, one URI SAN. An OU there is not pgmoat's: no environment.
  const svid = certificateFacts(sanPeer({ O: 'SPIRE', OU: 'production' }, 'URI:spiffe://prod.example/ns/prod/sa/api', 'AA:01'))!.identity!;
  assert.equal(svid.cn, undefined);
  assert.deepEqual(svid.uris, ['spiffe://prod.example/ns/prod/sa/api']);
  assert.deepEqual(svid.dnsNames, []);
  assert.equal(svid.environment, undefined);
  assert.equal(identityName(svid), 'uri:spiffe://prod.example/ns/prod/sa/api');
  // A pgmoat identity URI without its CN does not give an environment either.
  const forged = certificateFacts(sanPeer({}, 'URI:pgmoat://production/api', 'AA:02'))!.identity!;
  assert.equal(forged.environment, undefined);
  // cert-manager style: CN and DNS SANs (lowercased).
  const cm = certificateFacts(sanPeer({ CN: 'reports' }, 'DNS:Reports.Prod.SVC.cluster.local, DNS:reports', 'AA:03'))!.identity!;
  assert.equal(cm.cn, 'reports');
  assert.deepEqual(cm.dnsNames, ['reports.prod.svc.cluster.local', 'reports']);
  assert.deepEqual(sanList(cm), ['dns:reports.prod.svc.cluster.local', 'dns:reports']);
  // Neither CN nor URI/DNS SAN: no identity, as before.
  assert.equal(certificateFacts(sanPeer({ O: 'x' }, 'IP Address:10.0.0.1', 'AA:04'))!.identity, undefined);
  assert.equal(certificateFacts(sanPeer({ O: 'x' }, undefined, 'AA:05'))!.identity, undefined);
});
