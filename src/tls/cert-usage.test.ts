import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate as NodeX509 } from 'node:crypto';
import fc from 'fast-check';
import * as x509 from '../ca/x509.js';
import { generateKeyPair } from '../ca/keys.js';
import type { CryptoKeyPair } from '../ca/webcrypto-types.js';
import { KEY_USAGE, OID_CLIENT_AUTH, readCertUsage, tryReadCertUsage, usageProblem, type CertUsage } from './cert-usage.js';

let keys: CryptoKeyPair;
before(async () => {
  keys = await generateKeyPair('ec-p256');
});

interface Spec {
  bc: boolean | undefined;
  ku: number | undefined;
  eku: string[] | undefined;
}

async function der(spec: Spec): Promise<Buffer> {
  const extensions: x509.Extension[] = [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: 'pgmoat://production/app' }])];
  if (spec.bc !== undefined) extensions.push(new x509.BasicConstraintsExtension(spec.bc, spec.bc ? 0 : undefined, true));
  if (spec.ku !== undefined) extensions.push(new x509.KeyUsagesExtension(spec.ku, true));
  if (spec.eku !== undefined) extensions.push(new x509.ExtendedKeyUsageExtension(spec.eku));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: '01',
    subject: 'CN=app',
    issuer: 'CN=test',
    notBefore: new Date('2026-01-01'),
    notAfter: new Date('2027-01-01'),
    publicKey: keys.publicKey,
    signingKey: keys.privateKey,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    extensions,
  });
  return Buffer.from(cert.rawData);
}

const allow = { allowWithoutEku: true };
const strict = { allowWithoutEku: false };

test('reads basicConstraints, keyUsage and extendedKeyUsage as they were written', async () => {
  const u = readCertUsage(await der({ bc: true, ku: KEY_USAGE.keyCertSign | KEY_USAGE.cRLSign | KEY_USAGE.decipherOnly, eku: [OID_CLIENT_AUTH, '1.3.6.1.5.5.7.3.1'] }));
  assert.deepEqual(u, { ca: true, keyUsage: KEY_USAGE.keyCertSign | KEY_USAGE.cRLSign | KEY_USAGE.decipherOnly, extendedKeyUsage: [OID_CLIENT_AUTH, '1.3.6.1.5.5.7.3.1'] });
  assert.deepEqual(readCertUsage(await der({ bc: undefined, ku: undefined, eku: undefined })), { ca: false, keyUsage: undefined, extendedKeyUsage: undefined });
  assert.deepEqual(readCertUsage(await der({ bc: false, ku: KEY_USAGE.digitalSignature, eku: [OID_CLIENT_AUTH] })), { ca: false, keyUsage: 1, extendedKeyUsage: [OID_CLIENT_AUTH] });
});

test('the verdict: CA first, then keyUsage, then extendedKeyUsage', () => {
  const u = (ca: boolean, keyUsage: number | undefined, extendedKeyUsage: string[] | undefined): CertUsage => ({ ca, keyUsage, extendedKeyUsage });
  assert.equal(usageProblem(u(false, KEY_USAGE.digitalSignature, [OID_CLIENT_AUTH]), strict), undefined);
  assert.equal(usageProblem(u(false, undefined, [OID_CLIENT_AUTH]), strict), undefined, 'no keyUsage extension: any use');
  assert.equal(usageProblem(u(false, KEY_USAGE.digitalSignature | KEY_USAGE.keyEncipherment, [OID_CLIENT_AUTH]), strict), undefined);
  assert.equal(usageProblem(u(true, KEY_USAGE.digitalSignature, [OID_CLIENT_AUTH]), allow), 'ca-certificate');
  assert.equal(usageProblem(u(false, KEY_USAGE.keyAgreement, [OID_CLIENT_AUTH]), strict), 'no-digital-signature');
  assert.equal(usageProblem(u(false, KEY_USAGE.nonRepudiation, [OID_CLIENT_AUTH]), strict), 'no-digital-signature');
  assert.equal(usageProblem(u(false, 0, [OID_CLIENT_AUTH]), strict), 'no-digital-signature', 'an empty keyUsage allows nothing');
  assert.equal(usageProblem(u(false, KEY_USAGE.digitalSignature, undefined), strict), 'no-extended-key-usage');
  assert.equal(usageProblem(u(false, KEY_USAGE.digitalSignature, undefined), allow), undefined);
  assert.equal(usageProblem(u(false, KEY_USAGE.digitalSignature, ['2.5.29.37.0']), allow), 'no-client-auth', 'anyExtendedKeyUsage is not clientAuth');
  assert.equal(usageProblem(u(false, KEY_USAGE.digitalSignature, []), allow), 'no-client-auth', 'an empty EKU list is present, not absent');
  assert.equal(usageProblem(undefined, allow), 'unreadable');
});

const ekuOid = fc.constantFrom(OID_CLIENT_AUTH, '1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.4', '2.5.29.37.0', '1.2.840.113635.100.4.1', '1.3.6.1.4.1.311.20.2.2');
const spec: fc.Arbitrary<Spec> = fc.record({
  bc: fc.option(fc.boolean(), { nil: undefined }),
  ku: fc.option(fc.integer({ min: 0, max: 511 }), { nil: undefined }),
  eku: fc.option(fc.uniqueArray(ekuOid, { minLength: 1, maxLength: 4 }), { nil: undefined }),
});

test('property: what is read matches what was written, and Node agrees on the EKU list', async () => {
  await fc.assert(
    fc.asyncProperty(spec, async (s) => {
      const bytes = await der(s);
      const u = readCertUsage(bytes);
      assert.equal(u.ca, s.bc === true);
      // A keyUsage of no bits is written as an empty BIT STRING and reads back as 0.
      assert.equal(u.keyUsage, s.ku);
      assert.deepEqual(u.extendedKeyUsage, s.eku);
      const node = new NodeX509(bytes);
      assert.deepEqual(u.extendedKeyUsage ?? [], node.keyUsage ?? []);
    }),
    { numRuns: 150 },
  );
});

test('property: a truncated or corrupted certificate never throws, and truncation is never read as usable', async () => {
  const bytes = await der({ bc: false, ku: KEY_USAGE.digitalSignature, eku: [OID_CLIENT_AUTH] });
  for (let n = 0; n < bytes.length; n++) assert.equal(tryReadCertUsage(bytes.subarray(0, n)), undefined, `truncated at ${n}`);
  fc.assert(
    fc.property(fc.integer({ min: 0, max: bytes.length - 1 }), fc.integer({ min: 0, max: 255 }), (at, value) => {
      const copy = Buffer.from(bytes);
      copy[at] = value;
      tryReadCertUsage(copy); // must return (a reading or undefined), never throw
    }),
    { numRuns: 2000 },
  );
});

test('a certificate with two keyUsage extensions cannot be read (refused as unreadable)', async () => {
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: '02',
    subject: 'CN=app',
    issuer: 'CN=test',
    notBefore: new Date('2026-01-01'),
    notAfter: new Date('2027-01-01'),
    publicKey: keys.publicKey,
    signingKey: keys.privateKey,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    // RFC 5280 allows one of each; which one would a verifier believe?
    extensions: [new x509.KeyUsagesExtension(KEY_USAGE.keyCertSign, true), new x509.KeyUsagesExtension(KEY_USAGE.digitalSignature, true), new x509.ExtendedKeyUsageExtension([OID_CLIENT_AUTH])],
  });
  assert.equal(tryReadCertUsage(Buffer.from(cert.rawData)), undefined);
  assert.equal(usageProblem(tryReadCertUsage(Buffer.from(cert.rawData)), allow), 'unreadable');
});
