/**
 * The `openssl req` flow of hand-made mTLS guides: a key and CSR made elsewhere, signed by
 * `pgmoat issue --csr`. Only the key is taken from the CSR; what it asks for is ignored.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openssl, pgmoat, snapshotDir } from './run-pgmoat.js';

let work: string;
let dir: string;
let out: string;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'pgmoat-ca-csr-'));
  dir = join(work, 'ca');
  out = join(work, 'out');
  const init = await pgmoat(['init', '--dir', dir]);
  assert.equal(init.code, 0, init.stderr);
});
after(() => rmSync(work, { recursive: true, force: true }));

function makeCsr(name: string, keyArgs: string[], extra: string[] = []): { csr: string; key: string } {
  const key = join(work, `${name}.key`);
  const csr = join(work, `${name}.csr`);
  const g = openssl(['genpkey', ...keyArgs, '-out', key]);
  assert.ok(g.ok, g.out);
  const r = openssl(['req', '-new', '-key', key, '-subj', `/CN=${name}/O=Somebody Else`, ...extra, '-out', csr]);
  assert.ok(r.ok, r.out);
  return { csr, key };
}

test('a valid EC CSR is signed; the key never reaches pgmoat', async () => {
  const { csr, key } = makeCsr('dave', ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']);
  const r = await pgmoat(['issue', 'dave', '--env', 'production', '--dir', dir, '--out', out, '--csr', csr]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(!existsSync(join(out, 'dave.key')), 'no key file with --csr');
  const cert = join(out, 'dave.crt');
  const v = openssl(['verify', '-purpose', 'sslclient', '-CAfile', join(dir, 'ca.crt'), cert]);
  assert.ok(v.ok, v.out);
  assert.equal(openssl(['x509', '-in', cert, '-noout', '-pubkey']).out, openssl(['pkey', '-in', key, '-pubout']).out);
  // The subject is pgmoat's, not the CSR's.
  assert.match(openssl(['x509', '-in', cert, '-noout', '-subject']).out, /subject=CN = dave, OU = production, O = pgmoat CA/);
});

test('a valid RSA CSR in DER form is signed', async () => {
  const { csr } = makeCsr('erin', ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048']);
  const der = join(work, 'erin.der');
  assert.ok(openssl(['req', '-in', csr, '-outform', 'DER', '-out', der]).ok);
  const r = await pgmoat(['issue', 'erin', '--env', 'production', '--dir', dir, '--out', out, '--csr', der]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(openssl(['verify', '-CAfile', join(dir, 'ca.crt'), join(out, 'erin.crt')]).ok);
});

test('a CSR asking for CA:TRUE, serverAuth and extra SANs gets a plain client certificate', async () => {
  const { csr } = makeCsr('frank', ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'], [
    '-addext', 'basicConstraints=critical,CA:TRUE',
    '-addext', 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature',
    '-addext', 'extendedKeyUsage=serverAuth,clientAuth',
    '-addext', 'subjectAltName=DNS:evil.example.com,URI:pgmoat://production/admin',
  ]);
  assert.match(openssl(['req', '-in', csr, '-noout', '-text']).out, /CA:TRUE/);
  const r = await pgmoat(['issue', 'frank', '--env', 'staging', '--dir', dir, '--out', out, '--csr', csr]);
  assert.equal(r.code, 0, r.stderr);
  const txt = openssl(['x509', '-in', join(out, 'frank.crt'), '-noout', '-text']).out;
  assert.match(txt, /CA:FALSE/);
  assert.doesNotMatch(txt, /CA:TRUE|Certificate Sign|Server Authentication|evil|admin/);
  assert.match(txt, /TLS Web Client Authentication/);
  assert.match(txt, /URI:pgmoat:\/\/staging\/frank/);
  // It cannot sign anything: openssl refuses a chain through it.
  assert.ok(!openssl(['verify', '-purpose', 'sslserver', '-CAfile', join(dir, 'ca.crt'), join(out, 'frank.crt')]).ok);
});

async function refused(csrText: string | Buffer, expect: RegExp): Promise<void> {
  const file = join(work, `bad-${Math.random().toString(16).slice(2)}.csr`);
  writeFileSync(file, csrText);
  const beforeSnap = snapshotDir(dir);
  const r = await pgmoat(['issue', 'mallory', '--env', 'production', '--dir', dir, '--out', join(work, 'mallory-out'), '--csr', file]);
  assert.equal(r.code, 1, r.stderr);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr.split('\n').filter(Boolean).length, 1, r.stderr);
  assert.match(r.stderr, expect);
  assert.deepEqual(snapshotDir(dir), beforeSnap);
  assert.ok(!existsSync(join(work, 'mallory-out')));
}

test('malformed CSRs are refused with one line and no change', async () => {
  await refused('hello, I am not a CSR\n', /cannot be parsed as a PKCS#10 certificate request/);
  await refused('-----BEGIN CERTIFICATE REQUEST-----\nMIIBaz==\n-----END CERTIFICATE REQUEST-----\n', /cannot be parsed/);
  const good = readFileSync(makeCsr('trunc', ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']).csr, 'utf8');
  const lines = good.trim().split('\n');
  await refused([...lines.slice(0, 3), lines.at(-1)!].join('\n') + '\n', /cannot be parsed/);
  await refused(readFileSync(join(dir, 'ca.crt')), /is not a certificate request \(it holds a CERTIFICATE\)/);
  await refused(Buffer.from([0x30, 0x82, 0xff, 0xff, 0x01]), /cannot be parsed/);
});

test('a wrongly signed CSR is refused', async () => {
  const { csr } = makeCsr('victim', ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']);
  const derB64 = readFileSync(csr, 'utf8').replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
  const bytes = Buffer.from(derB64, 'base64');
  const at = bytes.indexOf(Buffer.from('victim'));
  assert.ok(at > 0);
  bytes[at] = 'V'.charCodeAt(0); // the subject changes, the signature no longer matches
  await refused(bytes, /invalid signature/);

  // A CSR whose public key was swapped for someone else's: signed by a key it does not contain.
  const other = makeCsr('other', ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']);
  const otherBytes = Buffer.from(readFileSync(other.csr, 'utf8').replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  const victimBytes = Buffer.from(derB64, 'base64');
  const spkiPrefix = Buffer.from('3059301306072a8648ce3d020106082a8648ce3d030107034200', 'hex');
  const vAt = victimBytes.indexOf(spkiPrefix);
  const oAt = otherBytes.indexOf(spkiPrefix);
  assert.ok(vAt > 0 && oAt > 0);
  otherBytes.copy(victimBytes, vAt, oAt, oAt + spkiPrefix.length + 65);
  await refused(victimBytes, /invalid signature/);
});
