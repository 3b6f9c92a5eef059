/**
 * Everything pgmoat issues verifies with openssl and carries the intended extensions
 * (openssl as the independent reader). Runs the real CLI.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openssl, pgmoat } from './run-pgmoat.js';

let work: string;
let dir: string;
let out: string;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'pgmoat-ca-certs-'));
  dir = join(work, 'ca');
  out = join(work, 'out');
  const init = await pgmoat(['init', '--dir', dir, '--ca-name', 'Acme, Inc. CA']);
  assert.equal(init.code, 0, init.stderr);
  const issue = await pgmoat(['issue', 'alice', '--env', 'production', '--dir', dir, '--out', out]);
  assert.equal(issue.code, 0, issue.stderr);
});
after(() => rmSync(work, { recursive: true, force: true }));

function text(path: string): string {
  const r = openssl(['x509', '-in', path, '-noout', '-text']);
  assert.ok(r.ok, r.out);
  return r.out;
}

/** The lines of one extension block in `openssl x509 -text` output. */
function extension(txt: string, name: string): string {
  const m = txt.match(new RegExp(`X509v3 ${name}:( critical)? *\\n\\s+(.*)`));
  assert.ok(m, `no ${name} in\n${txt}`);
  return `${m[1] ? 'critical ' : ''}${m[2]!.trim()}`;
}

test('init: files, modes and the CA certificate profile', () => {
  assert.equal(statSync(dir).mode & 0o777, 0o700);
  for (const [f, mode] of [['ca.key', 0o600], ['server.key', 0o600], ['ca.crt', 0o644], ['server.crt', 0o644], ['crl.pem', 0o644], ['inventory.json', 0o644], ['pgmoat.yaml', 0o644]] as const) {
    assert.equal(statSync(join(dir, f)).mode & 0o777, mode, f);
  }
  assert.match(readFileSync(join(dir, 'ca.key'), 'utf8'), /^-----BEGIN PRIVATE KEY-----/);
  const ca = text(join(dir, 'ca.crt'));
  assert.equal(extension(ca, 'Basic Constraints'), 'critical CA:TRUE, pathlen:0');
  assert.equal(extension(ca, 'Key Usage'), 'critical Certificate Sign, CRL Sign');
  assert.match(ca, /Subject: CN = "Acme, Inc\. CA", O = pgmoat/);
  assert.match(ca, /Public Key Algorithm: id-ecPublicKey[\s\S]*NIST CURVE: P-256/);
  // Ten years.
  const days = (new Date(ca.match(/Not After : (.*)/)![1]!).getTime() - new Date(ca.match(/Not Before: (.*)/)![1]!).getTime()) / 86_400_000;
  assert.ok(days >= 3650 && days < 3651, String(days));
  assert.ok(openssl(['verify', '-CAfile', join(dir, 'ca.crt'), join(dir, 'ca.crt')]).ok);
});

test('init: the gateway server certificate', () => {
  const path = join(dir, 'server.crt');
  const r = openssl(['verify', '-purpose', 'sslserver', '-CAfile', join(dir, 'ca.crt'), path]);
  assert.ok(r.ok, r.out);
  const srv = text(path);
  assert.equal(extension(srv, 'Basic Constraints'), 'critical CA:FALSE');
  assert.equal(extension(srv, 'Extended Key Usage'), 'TLS Web Server Authentication');
  assert.equal(extension(srv, 'Subject Alternative Name'), 'DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
  assert.match(srv, /Subject: CN = localhost, O = "Acme, Inc\. CA"/);
  assert.ok(!openssl(['verify', '-purpose', 'sslclient', '-CAfile', join(dir, 'ca.crt'), path]).ok);
  assert.ok(openssl(['x509', '-in', path, '-noout', '-checkhost', 'localhost']).out.includes('does match'));
});

test('issue: the client certificate profile', () => {
  const path = join(out, 'alice.crt');
  assert.equal(statSync(join(out, 'alice.key')).mode & 0o777, 0o600);
  assert.equal(readFileSync(join(out, 'ca.crt'), 'utf8'), readFileSync(join(dir, 'ca.crt'), 'utf8'));
  const ok = openssl(['verify', '-purpose', 'sslclient', '-CAfile', join(dir, 'ca.crt'), '-crl_check', '-CRLfile', join(dir, 'crl.pem'), path]);
  assert.ok(ok.ok, ok.out);
  assert.ok(!openssl(['verify', '-purpose', 'sslserver', '-CAfile', join(dir, 'ca.crt'), path]).ok, 'must not be usable as a server cert');
  const c = text(path);
  assert.match(c, /Subject: CN = alice, OU = production, O = "Acme, Inc\. CA"/);
  assert.equal(extension(c, 'Basic Constraints'), 'critical CA:FALSE');
  assert.equal(extension(c, 'Key Usage'), 'critical Digital Signature');
  assert.equal(extension(c, 'Extended Key Usage'), 'TLS Web Client Authentication');
  assert.equal(extension(c, 'Subject Alternative Name'), 'URI:pgmoat://production/alice');
  assert.match(c, /X509v3 Authority Key Identifier/);
  // A random 128-bit serial (16 bytes, positive).
  const serial = c.match(/Serial Number:\s*\n\s*([0-9a-f:]+)/)![1]!;
  assert.equal(serial.split(':').length, 16, serial);
  const days = (new Date(c.match(/Not After : (.*)/)![1]!).getTime() - Date.now()) / 86_400_000;
  assert.ok(days > 89.9 && days <= 90, String(days));
  // The key is PKCS#8 and matches the certificate.
  const key = readFileSync(join(out, 'alice.key'), 'utf8');
  assert.match(key, /^-----BEGIN PRIVATE KEY-----/);
  const pubFromKey = openssl(['pkey', '-pubout'], key).out;
  const pubFromCert = openssl(['x509', '-noout', '-pubkey', '-in', path]).out;
  assert.equal(pubFromKey, pubFromCert);
  // The CA keeps certificates, never client keys.
  const inventory = readFileSync(join(dir, 'inventory.json'), 'utf8');
  assert.ok(!inventory.includes('PRIVATE KEY'));
  assert.ok(inventory.includes(readFileSync(path, 'utf8').trim().split('\n')[1]!));
});

test('issue --days and --key-type, encrypted client key', async () => {
  const pass = join(work, 'client.pass');
  const { writeFileSync } = await import('node:fs');
  writeFileSync(pass, 'client secret\n', { mode: 0o600 });
  const r = await pgmoat(['issue', 'bob', '--env', 'staging', '--dir', dir, '--out', out, '--days', '7', '--key-type', 'rsa-2048', '--key-passphrase-file', pass]);
  assert.equal(r.code, 0, r.stderr);
  const c = text(join(out, 'bob.crt'));
  assert.match(c, /Public-Key: \(2048 bit\)/);
  const days = (new Date(c.match(/Not After : (.*)/)![1]!).getTime() - Date.now()) / 86_400_000;
  assert.ok(days > 6.9 && days <= 7, String(days));
  const key = readFileSync(join(out, 'bob.key'), 'utf8');
  assert.match(key, /^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
  assert.ok(openssl(['pkey', '-passin', 'pass:client secret', '-noout'], key).ok);
  assert.ok(!openssl(['pkey', '-passin', 'pass:wrong', '-noout'], key).ok);
});

for (const keyType of ['ec-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096'] as const) {
  test(`init --key-type ${keyType}: CA, server and client verify`, async () => {
    const d = join(work, `ca-${keyType}`);
    const init = await pgmoat(['init', '--dir', d, '--key-type', keyType]);
    assert.equal(init.code, 0, init.stderr);
    const issue = await pgmoat(['issue', 'carol', '--env', 'dev', '--dir', d, '--out', join(d, '..', `out-${keyType}`)]);
    assert.equal(issue.code, 0, issue.stderr);
    const ca = text(join(d, 'ca.crt'));
    if (keyType.startsWith('rsa')) {
      assert.match(ca, new RegExp(`Public-Key: \\(${keyType.slice(4)} bit\\)`));
      assert.match(ca, /Signature Algorithm: sha256WithRSAEncryption/);
      assert.match(extension(text(join(d, 'server.crt')), 'Key Usage'), /Digital Signature, Key Encipherment/);
    } else {
      assert.match(ca, /NIST CURVE: P-384/);
      assert.match(ca, /Signature Algorithm: ecdsa-with-SHA384/);
    }
    for (const f of [join(d, 'server.crt'), join(d, '..', `out-${keyType}`, 'carol.crt')]) {
      const r = openssl(['verify', '-CAfile', join(d, 'ca.crt'), '-crl_check', '-CRLfile', join(d, 'crl.pem'), f]);
      assert.ok(r.ok, r.out);
    }
  });
}
