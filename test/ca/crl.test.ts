/** crl.pem as openssl reads it: signed, numbered, dated, with reason codes; revocation via the CLI. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openssl, pgmoat } from './run-pgmoat.js';

let work: string;
let dir: string;
let out: string;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'pgmoat-ca-crl-'));
  dir = join(work, 'ca');
  out = join(work, 'out');
  const init = await pgmoat(['init', '--dir', dir, '--crl-days', '3']);
  assert.equal(init.code, 0, init.stderr);
});
after(() => rmSync(work, { recursive: true, force: true }));

interface CrlFacts {
  text: string;
  number: number;
  lifetimeDays: number;
}

function readCrl(): CrlFacts {
  const path = join(dir, 'crl.pem');
  assert.match(readFileSync(path, 'utf8'), /^-----BEGIN X509 CRL-----\n[\s\S]*-----END X509 CRL-----\n$/);
  const verified = openssl(['crl', '-in', path, '-CAfile', join(dir, 'ca.crt'), '-noout']);
  assert.match(verified.out, /verify OK/);
  const r = openssl(['crl', '-in', path, '-noout', '-text']);
  assert.ok(r.ok, r.out);
  const last = new Date(r.out.match(/Last Update: (.*)/)![1]!);
  const next = new Date(r.out.match(/Next Update: (.*)/)![1]!);
  assert.ok(Math.abs(last.getTime() - Date.now()) < 120_000, 'thisUpdate is now');
  return {
    text: r.out,
    number: Number(r.out.match(/X509v3 CRL Number: *\n\s+(\d+)/)![1]),
    lifetimeDays: (next.getTime() - last.getTime()) / 86_400_000,
  };
}

function serialOf(certPath: string): string {
  return openssl(['x509', '-in', certPath, '-noout', '-serial']).out.trim().replace(/^serial=/, '');
}

test('init writes an empty signed CRL that Node and openssl accept', () => {
  const crl = readCrl();
  assert.equal(crl.number, 1);
  assert.equal(crl.lifetimeDays, 3);
  assert.match(crl.text, /No Revoked Certificates/);
  assert.match(crl.text, /Issuer: CN = pgmoat CA, O = pgmoat/);
  assert.match(crl.text, /X509v3 Authority Key Identifier/);
  createSecureContext({ ca: readFileSync(join(dir, 'ca.crt')), crl: readFileSync(join(dir, 'crl.pem')) });
});

test('revoke by name and by serial: entries, reasons, numbering', async () => {
  for (const n of ['alice', 'bob', 'carol']) {
    const r = await pgmoat(['issue', n, '--env', 'production', '--dir', dir, '--out', out]);
    assert.equal(r.code, 0, r.stderr);
  }
  const aliceSerial = serialOf(join(out, 'alice.crt'));
  const bobSerial = serialOf(join(out, 'bob.crt'));
  const carolSerial = serialOf(join(out, 'carol.crt'));

  const r1 = await pgmoat(['revoke', 'alice', '--dir', dir, '--reason', 'keyCompromise']);
  assert.equal(r1.code, 0, r1.stderr);
  assert.match(r1.stdout, /Revoked alice \(production\)/);
  let crl = readCrl();
  assert.equal(crl.number, 2);
  assert.match(crl.text, new RegExp(`Serial Number: ${aliceSerial}\\s+Revocation Date: .*\\s+CRL entry extensions:\\s+X509v3 CRL Reason Code: *\\s+Key Compromise`));

  // By serial, in openssl's colon form, lower case.
  const colons = bobSerial.toLowerCase().match(/../g)!.join(':');
  const r2 = await pgmoat(['revoke', colons, '--dir', dir, '--reason', 'cessationOfOperation']);
  assert.equal(r2.code, 0, r2.stderr);
  // Reason unspecified: no reasonCode extension (RFC 5280).
  const r3 = await pgmoat(['revoke', 'carol', '--env', 'production', '--dir', dir]);
  assert.equal(r3.code, 0, r3.stderr);
  crl = readCrl();
  assert.equal(crl.number, 4);
  assert.match(crl.text, new RegExp(`Serial Number: ${bobSerial}[\\s\\S]*?Cessation Of Operation`));
  assert.match(crl.text, new RegExp(`Serial Number: ${carolSerial}\\s+Revocation Date: [^\\n]*\\n(?!\\s+CRL entry extensions)`));

  for (const [name, serial] of [['alice', aliceSerial], ['bob', bobSerial]] as const) {
    const v = openssl(['verify', '-crl_check', '-CRLfile', join(dir, 'crl.pem'), '-CAfile', join(dir, 'ca.crt'), join(out, `${name}.crt`)]);
    assert.ok(!v.ok);
    assert.match(v.out, /certificate revoked/, serial);
  }

  const again = await pgmoat(['revoke', 'alice', '--dir', dir]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /^pgmoat: every certificate of "alice" in "production" is already revoked\n$/);
  const list = JSON.parse((await pgmoat(['list', '--dir', dir, '--json'])).stdout) as { certificates: { name: string; status: string; reason: string | null }[] };
  assert.deepEqual(
    list.certificates.filter((c) => c.name !== 'localhost').map((c) => [c.name, c.status, c.reason]),
    [['alice', 'revoked', 'keyCompromise'], ['bob', 'revoked', 'cessationOfOperation'], ['carol', 'revoked', 'unspecified']],
  );
});

test('a name in two environments needs --env', async () => {
  for (const env of ['staging', 'production']) {
    const r = await pgmoat(['issue', 'dora', '--env', env, '--dir', dir, '--out', join(out, env)]);
    assert.equal(r.code, 0, r.stderr);
  }
  const amb = await pgmoat(['revoke', 'dora', '--dir', dir]);
  assert.equal(amb.code, 1);
  assert.match(amb.stderr, /exists in several environments \(.*\); pass --env/);
  const ok = await pgmoat(['revoke', 'dora', '--env', 'staging', '--dir', dir]);
  assert.equal(ok.code, 0, ok.stderr);
  const v = openssl(['verify', '-crl_check', '-CRLfile', join(dir, 'crl.pem'), '-CAfile', join(dir, 'ca.crt'), join(out, 'production', 'dora.crt')]);
  assert.ok(v.ok, 'the production identity stays valid');
});

test('pgmoat crl re-signs with a fresh nextUpdate; --crl-days sticks', async () => {
  const beforeNumber = readCrl().number;
  const r = await pgmoat(['crl', '--dir', dir]);
  assert.equal(r.code, 0, r.stderr);
  let crl = readCrl();
  assert.equal(crl.number, beforeNumber + 1);
  assert.equal(crl.lifetimeDays, 3);
  const revokedCount = (crl.text.match(/Serial Number:/g) ?? []).length;
  assert.equal(revokedCount, 4);
  assert.equal((await pgmoat(['crl', '--dir', dir, '--crl-days', '30'])).code, 0);
  assert.equal(readCrl().lifetimeDays, 30);
  assert.equal((await pgmoat(['crl', '--dir', dir])).code, 0);
  crl = readCrl();
  assert.equal(crl.lifetimeDays, 30);
  assert.equal(crl.number, beforeNumber + 3);
});
