/**
 * `pgmoat agent` against a real renewal service: a 21-second certificate is renewed several
 * times, --exec runs after each, and the renewed pair logs in through the gateway; a revoked or
 * expired certificate makes the agent stop with status 1 and a clear message.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { dirname } from 'node:path';
import { pgmoat } from '../ca/run-pgmoat.js';
import { join } from 'node:path';
import { conninfo, psql } from '../harness/psql.js';
import { collectResult, spawnPgmoat } from '../ca/run-pgmoat.js';
import { waitFor } from '../gateway/helpers.js';
import { issueClient } from '../../src/ca/index.js';
import { renewalTime } from '../../src/renewal/agent.js';
import { serialOf, startRenewalStack, stopRenewalStack, type RenewalStack } from './helpers.js';

let stack: RenewalStack;
before(async () => {
  stack = await startRenewalStack();
});
after(() => stopRenewalStack(stack));

/** A client certificate for `app` valid from now for `seconds` (or already expired), written with ca.crt beside it. */
async function shortLived(dirName: string, seconds: number, expired = false) {
  const out = join(stack.work, dirName);
  mkdirSync(out, { recursive: true });
  const now = Date.now();
  const window = expired ? { notBefore: new Date(now - 60_000), notAfter: new Date(now - 30_000) } : { notBefore: new Date(now - 1_000), notAfter: new Date(now + seconds * 1000) };
  const issued = await issueClient(stack.pki.main.authority, { name: 'app', environment: 'production', outDir: out, allowDuplicate: true, ...window });
  return { certPath: issued.files!.cert, keyPath: issued.files!.key!, caPath: issued.files!.ca, serial: issued.serial };
}

test('the renewal point is the fraction of the lifetime, spread by the jitter', () => {
  const cert = { notBefore: new Date(0), notAfter: new Date(90_000) };
  assert.equal(renewalTime(cert, 2 / 3, 0, () => 0.5).getTime(), 60_000);
  assert.equal(renewalTime(cert, 0.7, 0.1, () => 0).getTime(), 58_500);
  assert.equal(renewalTime(cert, 0.7, 0.1, () => 1).getTime(), 67_500);
});

test('the agent renews a short-lived certificate again and again, runs --exec, and the pair logs in', async () => {
  const files = await shortLived('agent', 20);
  const marks = join(stack.work, 'agent-renewed.txt');
  const agent = spawnPgmoat([
    'agent', '--remote', stack.svc.url, '--cert', files.certPath, '--key', files.keyPath,
    '--renew-at', '0.5', '--jitter', '0', '--retry-min', '200ms', '--exec', `echo renewed >> ${marks}`,
  ]);
  let out = '';
  agent.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const result = collectResult(agent);
  const renewals = (): number => (existsSync(marks) ? readFileSync(marks, 'utf8').split('\n').filter(Boolean).length : 0);
  try {
    await waitFor(() => renewals() >= 3, `three renewals by the agent:\n${out}`, 120_000);
    const lines = out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    const renewed = lines.filter((l) => l.event === 'agent_renewed');
    assert.ok(renewed.length >= 3);
    assert.equal(renewed[0]!.old_serial, files.serial);
    assert.equal(renewed[1]!.old_serial, renewed[0]!.serial, 'each renewal starts from the previous one');
    // Each certificate is scheduled at half its life (10 s before its notAfter), not at once: the
    // renewed lifetime neither shrinks nor grows. From the certificates' own dates, not the clock
    // (a loaded machine starts the agent late).
    for (const l of lines.filter((x) => x.event === 'agent_scheduled')) {
      assert.ok(Date.parse(String(l.not_after)) - Date.parse(String(l.renew_at)) >= 9_000, JSON.stringify(l));
    }
    assert.equal(statSync(files.keyPath).mode & 0o777, 0o600);
    const q = await psql(conninfo(stack.gw.port, { user: 'app', dbname: 'appdb', cert: files }), 'SELECT current_user');
    assert.equal(q.stderr, '');
    assert.equal(q.stdout, 'app');
    assert.notEqual(serialOf(readFileSync(files.certPath, 'utf8')), files.serial);
  } finally {
    agent.kill('SIGTERM');
  }
  const r = await result;
  assert.equal(r.code, 0, r.stderr);
});

test('a revoked certificate makes the agent stop with status 1', async () => {
  const files = await shortLived('agent-revoked', 20);
  await stack.pki.revoke(files.serial);
  const r = await collectResult(spawnPgmoat(['agent', '--remote', stack.svc.url, '--cert', files.certPath, '--key', files.keyPath, '--renew-at', '0.01', '--jitter', '0']));
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /RENEWAL_REVOKED.*this certificate can no longer renew/);
  assert.match(r.stdout, /"event":"agent_gave_up"/);
});

test('an expired certificate makes the agent stop with status 1', async () => {
  const files = await shortLived('agent-expired', 0, true);
  const r = await collectResult(spawnPgmoat(['agent', '--remote', stack.svc.url, '--cert', files.certPath, '--key', files.keyPath]));
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stderr, /RENEWAL_EXPIRED.*the certificate has expired/);
});

function pairMatches(certPath: string, keyPath: string): boolean {
  const spki = (k: ReturnType<typeof createPublicKey>) => k.export({ format: 'der', type: 'spki' });
  return spki(new X509Certificate(readFileSync(certPath)).publicKey).equals(spki(createPublicKey(createPrivateKey(readFileSync(keyPath)))));
}

test('kill -9 of the agent in the middle of renewals: never a torn file, and the next run leaves a matching pair', async () => {
  // A 60-second certificate renewed at 1 % of its life: the agent renews back to back, so a kill lands mid-renewal often.
  const files = await shortLived('agent-killed', 60);
  let sawStaged = 0;
  for (let round = 0; round < 5; round++) {
    const agent = spawnPgmoat(['agent', '--remote', stack.svc.url, '--cert', files.certPath, '--key', files.keyPath, '--renew-at', '0.01', '--jitter', '0']);
    let out = '';
    agent.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
    const exited = collectResult(agent);
    const seen = (): number => out.split('"event":"agent_renewed"').length - 1;
    await waitFor(() => seen() >= 2, `renewals in round ${round}:\n${out}`, 60_000);
    await new Promise((r) => setTimeout(r, 37 * round));
    agent.kill('SIGKILL');
    await exited;
    // Every file there parses: whole old or whole new, never torn.
    const staged = readdirSync(dirname(files.certPath)).filter((f) => f.endsWith('.renewing'));
    sawStaged += staged.length > 0 ? 1 : 0;
    new X509Certificate(readFileSync(files.certPath));
    createPrivateKey(readFileSync(files.keyPath));
    for (const f of staged) readFileSync(join(dirname(files.certPath), f));
    // The next run finishes or discards what the kill left, and renews.
    const next = await pgmoat(['renew', '--remote', stack.svc.url, '--cert', files.certPath, '--key', files.keyPath]);
    assert.equal(next.code, 0, `round ${round}: ${next.stderr}`);
    assert.ok(pairMatches(files.certPath, files.keyPath), `round ${round}: the pair matches`);
    assert.deepEqual(readdirSync(dirname(files.certPath)).filter((f) => f.endsWith('.renewing') || f.endsWith('.tmp')), []);
  }
  // How often a kill left a half-done swap behind (for the report; not asserted: it depends on timing).
  process.stdout.write(`# kill rounds that left staged files: ${sawStaged}/5\n`);
  assert.equal((await psql(conninfo(stack.gw.port, { user: 'app', dbname: 'appdb', cert: files }), 'SELECT current_user')).stdout, 'app');
});
