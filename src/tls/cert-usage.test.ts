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
  return withExtensions(extensions);
}

/** A signed certificate carrying exactly these extensions, in this order. */
async function withExtensions(extensions: x509.Extension[]): Promise<Buffer> {
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

/** An extension with a hand-written value: what another CA (or a broken one) might encode. */
const raw = (oid: string, hex: string): x509.Extension => new x509.Extension(oid, false, Buffer.from(hex.replace(/ /g, ''), 'hex'));
const OID_BC = '2.5.29.19';
const OID_KU = '2.5.29.15';
const OID_EKU = '2.5.29.37';
const EKU_CLIENT_AUTH = '300a 0608 2b06010505070302';

test('a certificate that carries an extension twice cannot be read (refused as unreadable)', async () => {
  const clientAuth = new x509.ExtendedKeyUsageExtension([OID_CLIENT_AUTH]);
  // RFC 5280 allows one of each; which one would a verifier believe?
  const twoKeyUsages = await withExtensions([new x509.KeyUsagesExtension(KEY_USAGE.keyCertSign, true), new x509.KeyUsagesExtension(KEY_USAGE.digitalSignature, true), clientAuth]);
  assert.equal(tryReadCertUsage(twoKeyUsages), undefined);
  assert.equal(usageProblem(tryReadCertUsage(twoKeyUsages), allow), 'unreadable');
  const twoBasicConstraints = await withExtensions([new x509.BasicConstraintsExtension(false, undefined, true), new x509.BasicConstraintsExtension(true, undefined, true), clientAuth]);
  assert.equal(tryReadCertUsage(twoBasicConstraints), undefined);
  const twoEkus = await withExtensions([new x509.ExtendedKeyUsageExtension(['1.3.6.1.5.5.7.3.1']), clientAuth]);
  assert.equal(tryReadCertUsage(twoEkus), undefined);
  // Not only the three purpose extensions: any extension, as RFC 5280 4.2 says.
  const san = (uri: string): x509.Extension => new x509.SubjectAlternativeNameExtension([{ type: 'url', value: uri }]);
  const twoSans = await withExtensions([san('pgmoat://production/app'), san('pgmoat://staging/app'), clientAuth]);
  assert.equal(tryReadCertUsage(twoSans), undefined);
  // One of each is fine, in any order.
  assert.deepEqual(readCertUsage(await withExtensions([clientAuth, san('pgmoat://production/app'), new x509.KeyUsagesExtension(KEY_USAGE.digitalSignature, true)])), {
    ca: false,
    keyUsage: KEY_USAGE.digitalSignature,
    extendedKeyUsage: [OID_CLIENT_AUTH],
  });
});

test('an extendedKeyUsage holding anything but a DER list of OIDs cannot be read', async () => {
  assert.deepEqual(readCertUsage(await withExtensions([raw(OID_EKU, EKU_CLIENT_AUTH)])).extendedKeyUsage, [OID_CLIENT_AUTH], 'the hand-written control reads');
  const bad: Record<string, string> = {
    // The arcs of clientAuth as a RELATIVE-OID: the decoder alone would print them as clientAuth.
    'a RELATIVE-OID': '300b 0d09 0103060105050703 02',
    'an INTEGER': '3003 020105',
    'a UTF8String': `3013 0c11 ${Buffer.from('1.3.6.1.5.5.7.3.2').toString('hex')}`,
    'bytes after the list': `${EKU_CLIENT_AUTH} 0500`,
    'an indefinite length': '3080 0608 2b06010505070302 0000',
    'a SET': '310a 0608 2b06010505070302',
  };
  for (const [what, hex] of Object.entries(bad)) {
    assert.equal(tryReadCertUsage(await withExtensions([raw(OID_EKU, hex)])), undefined, what);
  }
});

test('keyUsage and basicConstraints as other issuers encode them', async () => {
  const read = async (...exts: x509.Extension[]): Promise<CertUsage> => readCertUsage(await withExtensions([...exts, raw(OID_EKU, EKU_CLIENT_AUTH)]));
  // cA FALSE written out (DER leaves a DEFAULT out, some CAs do not).
  assert.equal((await read(raw(OID_BC, '3003 010100'))).ca, false);
  assert.equal((await read(raw(OID_BC, '3003 0101ff'))).ca, true);
  assert.equal((await read(raw(OID_BC, '3000'))).ca, false);
  assert.equal((await read(raw(OID_BC, '3003 020100'))).ca, false, 'a pathLenConstraint alone: cA defaults to FALSE');
  // A keyUsage without bits (a BIT STRING of no bytes) allows nothing.
  assert.equal((await read(raw(OID_KU, '030100'))).keyUsage, 0);
  // Bits past decipherOnly are not named, and a long BIT STRING keeps its first bits.
  assert.equal((await read(raw(OID_KU, '0305 00 80 00 00 01'))).keyUsage, KEY_USAGE.digitalSignature);
  assert.equal((await read(raw(OID_KU, '0303 07 00 80'))).keyUsage, KEY_USAGE.decipherOnly);
  assert.equal(tryReadCertUsage(await withExtensions([raw(OID_KU, '0302 08 80')])), undefined, 'more than 7 unused bits');
  assert.equal(tryReadCertUsage(await withExtensions([raw(OID_KU, '0402 0780')])), undefined, 'an OCTET STRING is not a keyUsage');
  assert.equal(tryReadCertUsage(await withExtensions([raw(OID_BC, '0101ff')])), undefined, 'basicConstraints must be a SEQUENCE');
});
