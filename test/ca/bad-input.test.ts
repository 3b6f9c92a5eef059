/**
 * Bad input is refused with one line on stderr (`pgmoat: ...`), a non-zero exit, nothing on
 * stdout, and the CA directory exactly as it was: same files, same contents, same modes.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pgmoat, snapshotDir } from './run-pgmoat.js';
import { LOCK_NAME } from '../../src/ca/ca-lock.js';

let work: string;
let dir: string; // plain CA
let enc: string; // CA with an encrypted key
let out: string;
let pass: string;
let wrongPass: string;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'pgmoat-ca-bad-'));
  dir = join(work, 'ca');
  enc = join(work, 'enc');
  out = join(work, 'out');
  pass = join(work, 'ca.pass');
  wrongPass = join(work, 'wrong.pass');
  writeFileSync(pass, 'correct horse battery staple\n', { mode: 0o600 });
  writeFileSync(wrongPass, 'incorrect\n', { mode: 0o600 });
  const results = await Promise.all([
    pgmoat(['init', '--dir', dir]),
    pgmoat(['init', '--dir', enc, '--ca-passphrase-file', pass]),
  ]);
  for (const r of results) assert.equal(r.code, 0, r.stderr);
  const issued = await pgmoat(['issue', 'alice', '--env', 'production', '--dir', dir, '--out', join(work, 'alice')]);
  assert.equal(issued.code, 0, issued.stderr);
});
after(() => rmSync(work, { recursive: true, force: true }));

interface Case {
  args: string[];
  expect: RegExp;
  /** Usage errors exit 2 (commander's, and a wrong value on the command line); everything else 1. */
  code?: 1 | 2;
}

/**
 * The CA dirs' files, without the lock directory: cases run two at a time, so the other case's
 * command may hold the lock while this one looks. runAll checks that no lock is left at the end.
 */
function caFiles(): Record<string, string>[] {
  return [dir, enc].map((d) => {
    const snap = snapshotDir(d);
    for (const key of Object.keys(snap)) if (key === `${LOCK_NAME}/` || key.startsWith(`${LOCK_NAME}/`)) delete snap[key];
    return snap;
  });
}

async function expectRefused(c: Case): Promise<void> {
  const snaps = caFiles();
  const r = await pgmoat(c.args);
  const label = JSON.stringify(c.args);
  assert.equal(r.code, c.code ?? 1, `${label}: exit ${r.code}\n${r.stderr}`);
  assert.equal(r.stdout, '', label);
  const lines = r.stderr.split('\n');
  assert.equal(lines.length, 2, `${label}: expected one line, got:\n${r.stderr}`);
  assert.equal(lines[1], '');
  assert.match(lines[0]!, /^pgmoat: /, label);
  assert.match(lines[0]!, c.expect, label);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  assert.doesNotMatch(r.stderr, /correct horse|incorrect/, 'no secret in the message');
  assert.deepEqual(caFiles(), snaps, `${label} changed a CA directory`);
  assert.ok(!existsSync(out), `${label} created ${out}`);
}

/** Runs cases two at a time (the machine is shared); each checks the CA dirs before and after. */
async function runAll(cases: Case[]): Promise<void> {
  const queue = [...cases];
  const worker = async (): Promise<void> => {
    for (let c = queue.shift(); c; c = queue.shift()) await expectRefused(c);
  };
  await Promise.all([worker(), worker()]);
  for (const d of [dir, enc]) assert.equal(existsSync(join(d, LOCK_NAME)), false, `a lock was left in ${d}`);
}

const issue = (name: string, ...rest: string[]): string[] => ['issue', name, '--env', 'production', '--dir', dir, '--out', out, ...rest];

test('names and environments with path separators, whitespace or control characters', async () => {
  const bad = ['a/b', '../etc', 'a\\b', 'a b', ' alice', 'a\tb', 'a\nb', 'a\u0001b', 'a\u007fb', '.hidden', 'x'.repeat(64), 'é'];
  await runAll([
    ...bad.map((name) => ({ args: issue(name), expect: /invalid name ".*": use 1-63 characters/, code: 2 as const })),
    { args: issue(''), expect: /invalid name "": use 1-63/, code: 2 },
    { args: ['issue', 'bob', '--env', 'prod/x', '--dir', dir, '--out', out], expect: /invalid environment "prod\/x"/, code: 2 },
    { args: ['issue', 'bob', '--env', 'prod uction', '--dir', dir, '--out', out], expect: /invalid environment/, code: 2 },
    { args: ['issue', 'bob', '--env', '', '--dir', dir, '--out', out], expect: /invalid environment ""/, code: 2 },
    { args: ['renew', 'a/b', '--env', 'production', '--dir', dir, '--out', out], expect: /invalid name "a\/b"/, code: 2 },
    { args: ['revoke', 'a b', '--dir', dir], expect: /invalid name "a b"/, code: 2 },
  ]);
});

test('missing or malformed options', async () => {
  await runAll([
    { args: ['issue', 'bob', '--dir', dir, '--out', out], expect: /required option '--env <env>' not specified \(see pgmoat issue --help\)/, code: 2 },
    { args: ['issue', 'bob', '--env', 'production', '--out', out], expect: /required option '--dir <dir>'/, code: 2 },
    { args: ['issue', '--env', 'production', '--dir', dir, '--out', out], expect: /missing required argument 'name'/, code: 2 },
    { args: ['issue', 'bob', '--env', 'production', '--dir', dir, '--out', out, '--bogus'], expect: /unknown option '--bogus'/, code: 2 },
    { args: ['isue', 'bob'], expect: /unknown command 'isue'.*Did you mean issue/, code: 2 },
    ...['0', '-1', '-30', '1.5', 'ten', '', '99999999'].map((d) => ({ args: issue('bob', '--days', d), expect: /--days must be a whole number of days from 1 to 36500/, code: 2 as const })),
    { args: issue('bob', '--days', '5000'), expect: /--days 5000 would outlive the CA, which expires/, code: 2 },
    { args: issue('bob', '--key-type', 'dsa-1024'), expect: /invalid --key-type "dsa-1024": use one of ec-p256/, code: 2 },
    { args: issue('bob', '--print', 'yaml'), expect: /invalid --print "yaml": use one of env, dotenv, json/, code: 2 },
    { args: issue('bob', '--print', 'env', '--csr', join(work, 'none.csr')), expect: /--print needs the private key/, code: 2 },
    { args: issue('bob', '--csr', join(work, 'none.csr')), expect: /cannot read CSR file .*none\.csr: ENOENT/ },
    { args: ['revoke', 'alice', '--dir', dir, '--reason', 'becauseISaidSo'], expect: /invalid --reason "becauseISaidSo": use one of unspecified, keyCompromise/, code: 2 },
    { args: ['revoke', 'alice', '--dir', dir, '--crl-days', '0'], expect: /--crl-days must be a whole number/, code: 2 },
    { args: ['crl', '--dir', dir, '--crl-days', '-2'], expect: /--crl-days must be a whole number/, code: 2 },
    { args: ['issue-server', '--dir', dir, '--host', 'bad host'], expect: /invalid --host "bad host"/, code: 2 },
    { args: ['issue-server', '--dir', dir, '--days', '0'], expect: /--days must be a whole number/, code: 2 },
  ]);
});

test('the wrong CA directory, identity or target', async () => {
  await runAll([
    { args: ['issue', 'bob', '--env', 'production', '--dir', join(work, 'nope'), '--out', out], expect: /CA directory .*nope does not exist; create it with: pgmoat init --dir/ },
    { args: ['issue', 'bob', '--env', 'production', '--dir', work, '--out', out], expect: /is not a pgmoat CA directory \(no ca\.crt\)/ },
    { args: ['list', '--dir', join(work, 'nope')], expect: /does not exist/ },
    { args: issue('alice'), expect: /"alice" already has a valid certificate in "production" .*use pgmoat renew, or pgmoat revoke it first/ },
    { args: ['issue', 'bob', '--env', 'production', '--dir', dir, '--out', dir], expect: /--out must not be the CA directory/ },
    { args: ['renew', 'nobody', '--env', 'production', '--dir', dir, '--out', out], expect: /no certificate for "nobody" in "production" to renew; use pgmoat issue/ },
    { args: ['revoke', 'nobody', '--dir', dir], expect: /no certificate named "nobody" and no such serial; see pgmoat list/ },
    { args: ['revoke', 'alice', '--env', 'staging', '--dir', dir], expect: /no certificate named "alice" in "staging"/ },
    { args: ['revoke', 'deadbeefdeadbeefdeadbeefdeadbeef', '--dir', dir], expect: /no certificate named "deadbeefdeadbeefdeadbeefdeadbeef" and no such serial/ },
    { args: ['init', '--dir', dir], expect: /already holds a CA; pgmoat init never overwrites a CA: choose another --dir/ },
    { args: ['init', '--dir', enc, '--key-type', 'rsa-2048'], expect: /already holds a CA/ },
    { args: ['init', '--dir', join(work, 'ca.pass')], expect: /exists and is not a directory/ },
  ]);
});

test('CA key passphrase: missing, wrong, empty or exposed', async () => {
  const emptyPass = join(work, 'empty.pass');
  writeFileSync(emptyPass, '', { mode: 0o600 });
  const openPass = join(work, 'open.pass');
  writeFileSync(openPass, 'correct horse battery staple\n', { mode: 0o644 });
  chmodSync(openPass, 0o644);
  const encIssue = (...rest: string[]): string[] => ['issue', 'bob', '--env', 'production', '--dir', enc, '--out', out, ...rest];
  await runAll([
    { args: encIssue(), expect: /CA key .*enc\/ca\.key is encrypted: pass --ca-passphrase-file FILE/ },
    { args: encIssue('--ca-passphrase-file', wrongPass), expect: /cannot decrypt CA key .*: wrong passphrase \(check --ca-passphrase-file\)/ },
    { args: encIssue('--ca-passphrase-file', emptyPass), expect: /CA passphrase file .*empty\.pass is empty/ },
    { args: encIssue('--ca-passphrase-file', openPass), expect: /CA passphrase file .*open\.pass is readable by group or others \(mode 0644\); run: chmod 600/ },
    { args: encIssue('--ca-passphrase-file', join(work, 'missing.pass')), expect: /cannot read CA passphrase file .*missing\.pass: ENOENT/ },
    { args: ['revoke', 'alice', '--dir', enc], expect: /is encrypted: pass --ca-passphrase-file/ },
    { args: ['crl', '--dir', enc, '--ca-passphrase-file', wrongPass], expect: /wrong passphrase/ },
    { args: ['issue-server', '--dir', enc], expect: /is encrypted/ },
    { args: ['init', '--dir', join(work, 'enc2'), '--ca-passphrase-file', emptyPass], expect: /is empty/ },
  ]);
  assert.ok(!existsSync(join(work, 'enc2')));
});

test('a CA key readable by group or others is refused, as libpq refuses such keys', async () => {
  for (const mode of [0o640, 0o604, 0o644]) {
    chmodSync(join(dir, 'ca.key'), mode);
    try {
      await expectRefused({ args: issue('bob'), expect: new RegExp(`CA key .*ca\\.key is readable by group or others \\(mode 0${mode.toString(8)}\\); run: chmod 600`) });
      await expectRefused({ args: ['crl', '--dir', dir], expect: /readable by group or others/ });
    } finally {
      chmodSync(join(dir, 'ca.key'), 0o600);
    }
  }
});

test('init with bad options creates nothing', async () => {
  const target = join(work, 'fresh');
  const cases: Case[] = [
    { args: ['init', '--dir', target, '--host', 'a/b'], expect: /invalid --host "a\/b"/, code: 2 },
    { args: ['init', '--dir', target, '--key-type', 'rsa-1024'], expect: /invalid --key-type "rsa-1024"/, code: 2 },
    { args: ['init', '--dir', target, '--ca-name', 'bad\u0007name'], expect: /invalid --ca-name "bad\\u0007name"/, code: 2 },
    { args: ['init', '--dir', target, '--ca-name', ''], expect: /invalid --ca-name ""/, code: 2 },
    { args: ['init', '--dir', target, '--crl-days', '0'], expect: /--crl-days must be a whole number/, code: 2 },
    { args: ['init'], expect: /required option '--dir <dir>'/, code: 2 },
  ];
  await runAll(cases);
  assert.ok(!existsSync(target));
  // An existing empty directory stays as it was (mode too) when init is refused.
  mkdirSync(target, { mode: 0o755 });
  chmodSync(target, 0o755);
  const snap = snapshotDir(target);
  await expectRefused({ args: ['init', '--dir', target, '--key-type', 'nope'], expect: /invalid --key-type/, code: 2 });
  assert.deepEqual(snapshotDir(target), snap);
});

test('export refuses mismatched or exposed files', async () => {
  const a = join(work, 'alice');
  const other = join(work, 'other');
  const r = await pgmoat(['issue', 'other', '--env', 'production', '--dir', dir, '--out', other]);
  assert.equal(r.code, 0, r.stderr);
  writeFileSync(join(work, 'open.key'), '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n', { mode: 0o644 });
  chmodSync(join(work, 'open.key'), 0o644);
  await runAll([
    { args: ['export', '--cert', join(a, 'alice.crt'), '--key', join(other, 'other.key'), '--format', 'env'], expect: /client key .*other\.key does not belong to certificate .*alice\.crt/ },
    { args: ['export', '--cert', join(a, 'alice.crt'), '--key', join(work, 'open.key'), '--format', 'env'], expect: /client key .*open\.key is readable by group or others/ },
    { args: ['export', '--cert', join(a, 'alice.crt'), '--key', join(a, 'alice.key'), '--ca', join(enc, 'ca.crt'), '--format', 'env'], expect: /was not issued by CA .*enc\/ca\.crt/ },
    { args: ['export', '--cert', join(a, 'alice.key'), '--key', join(a, 'alice.key'), '--format', 'env'], expect: /certificate .*alice\.key is not a PEM certificate/ },
    { args: ['export', '--cert', join(a, 'alice.crt'), '--key', join(a, 'alice.key'), '--format', 'pem'], expect: /invalid --format "pem": use one of env, dotenv, json, libpq, pk8/, code: 2 },
    { args: ['export', '--cert', join(a, 'alice.crt'), '--key', join(a, 'alice.key'), '--format', 'pk8'], expect: /--format pk8 writes binary DER: pass --out FILE/, code: 2 },
  ]);
});
