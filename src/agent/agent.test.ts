import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { makePki, type Pki } from '../../test/harness/cert-factory.js';
import { Agent, RenewalFailure, type Renew } from './agent.js';
import { checkPair, finishPending, installPair, readPair, type Pair, type PairPaths } from './pair-files.js';
import { renewalTime, retryDelay, DEFAULT_POLICY, MAX_RETRY_MS } from './schedule.js';

let pki: Pki;
let dir: string;

before(async () => {
  pki = await makePki();
  dir = mkdtempSync(join(tmpdir(), 'pgmoat-agent-'));
});
after(() => {
  pki?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

async function newPair(): Promise<Pair> {
  const c = await pki.client('app');
  return { certPem: c.certPem, keyPem: c.keyPem };
}

let n = 0;
async function freshPaths(): Promise<PairPaths> {
  n++;
  const paths = { cert: join(dir, `app${n}.crt`), key: join(dir, `app${n}.key`) };
  installPair(paths, await newPair());
  return paths;
}

function captureLog(): { log: pino.Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level: 'debug' }, sink), lines };
}

/** A clock the agent's sleeps move forward, so that months pass in a test. */
function fakeClock(start: number): { now: () => number; sleep: (ms: number) => Promise<void> } {
  let t = start;
  return {
    now: () => t,
    sleep: async (ms: number) => {
      t += ms;
      await Promise.resolve();
    },
  };
}

test('the renewal moment: 2/3 of the lifetime by default, moved by the jitter, and backoff bounded by the time left', () => {
  const day = 86_400_000;
  assert.equal(renewalTime(0, 90 * day, DEFAULT_POLICY, 0.5), 60 * day);
  assert.equal(renewalTime(0, 100, { renewAt: 0.7, jitter: 0 }, 0.99), 70);
  const early = renewalTime(0, 90 * day, DEFAULT_POLICY, 0);
  const late = renewalTime(0, 90 * day, DEFAULT_POLICY, 0.999999);
  assert.ok(early < 60 * day && early >= 55 * day && late > 60 * day && late <= 65 * day, `${early / day} .. ${late / day}`);
  assert.deepEqual([1, 2, 3, 4].map((f) => retryDelay(f, 0, 10 * day)), [1000, 2000, 4000, 8000]);
  assert.equal(retryDelay(40, 0, 10 * day), MAX_RETRY_MS);
  assert.equal(retryDelay(12, 0, 20_000), 5000, 'a quarter of what is left, close to expiry');
});

test('--once renews now, installs the pair (key 0600) and runs --exec with the new files named', async () => {
  const paths = await freshPaths();
  const old = checkPair(readPair(paths), 'old');
  const marker = join(dir, 'exec-ran');
  const { log, lines } = captureLog();
  const agent = new Agent({ paths, renew: async () => newPair(), once: true, exec: `echo "$PGMOAT_SERIAL $PGMOAT_CERT" > ${marker}`, log });
  const result = await agent.run();
  assert.equal(result.renewals, 1);
  const now = checkPair(readPair(paths), 'new');
  assert.notEqual(now.serial, old.serial);
  assert.equal(statSync(paths.key).mode & 0o777, 0o600);
  assert.equal(readFileSync(marker, 'utf8').trim(), `${now.serial} ${paths.cert}`);
  const renewed = lines.find((l) => l.event === 'renewed')!;
  assert.deepEqual([renewed.old_serial, renewed.new_serial], [old.serial, now.serial]);
  assert.ok(lines.some((l) => l.event === 'exec_done' && l.exit_code === 0));
  assert.equal(existsSync(`${paths.cert}.next`) || existsSync(`${paths.key}.next`), false, 'nothing left beside the pair');
});

test('scheduled: each renewal at about 2/3 of the lifetime of the certificate in force; transient failures are retried with backoff', async () => {
  const paths = await freshPaths();
  const first = checkPair(readPair(paths), 'first');
  const clock = fakeClock(first.notBefore);
  const { log, lines } = captureLog();
  const attempts: number[] = [];
  let calls = 0;
  let agent: Agent;
  const renew: Renew = async () => {
    calls++;
    attempts.push(clock.now());
    if (calls === 2 || calls === 3) throw new RenewalFailure('SERVICE_UNAVAILABLE', 'connection refused', false);
    if (calls === 5) agent.stop();
    return newPair();
  };
  agent = new Agent({ paths, renew, log, now: clock.now, sleep: clock.sleep, random: () => 0.5 });
  const result = await agent.run();
  assert.equal(result.renewals, 3);
  assert.equal(result.gaveUp, undefined);
  const lifetime = first.notAfter - first.notBefore;
  assert.ok(Math.abs(attempts[0]! - (first.notBefore + (lifetime * 2) / 3)) < 1000, 'the first renewal at 2/3 of the lifetime');
  assert.deepEqual(
    lines.filter((l) => l.event === 'renewal_failed').map((l) => l.retry_in_ms),
    [1000, 2000],
  );
  assert.equal(attempts[2]! - attempts[1]!, 1000);
  assert.equal(attempts[3]! - attempts[2]!, 2000);
});

test('gives up at once on a permanent refusal, and after expiry on any refusal, with the reason', async () => {
  const paths = await freshPaths();
  const facts = checkPair(readPair(paths), 'p');
  const { log } = captureLog();
  const early = fakeClock(facts.notBefore);
  const revoked = await new Agent({
    paths,
    renew: async () => {
      throw new RenewalFailure('CERT_REVOKED', 'the certificate is revoked', true);
    },
    log,
    now: early.now,
    sleep: early.sleep,
  }).run();
  assert.equal(revoked.gaveUp?.code, 'CERT_REVOKED');

  const clock = fakeClock(facts.notAfter + 1000);
  const expired = await new Agent({
    paths,
    renew: async () => {
      throw new RenewalFailure('CERT_EXPIRED', 'expired', false);
    },
    log,
    now: clock.now,
    sleep: clock.sleep,
  }).run();
  assert.equal(expired.gaveUp?.code, 'CERT_EXPIRED');
  assert.match(expired.gaveUp!.message, /expired at .* and the renewal was refused/);
});

test('an interrupted installation is finished or discarded at start, never left as a mismatched pair', async () => {
  // Both halves written beside, neither renamed.
  let paths = await freshPaths();
  const a = await newPair();
  writeFileSync(`${paths.key}.next`, a.keyPem, { mode: 0o600 });
  writeFileSync(`${paths.cert}.next`, a.certPem);
  assert.equal(finishPending(paths), 'finished');
  assert.equal(checkPair(readPair(paths), 'p').serial, checkPair(a, 'a').serial);

  // The key renamed, the certificate not: the worst moment.
  paths = await freshPaths();
  const b = await newPair();
  writeFileSync(paths.key, b.keyPem, { mode: 0o600 });
  writeFileSync(`${paths.cert}.next`, b.certPem);
  assert.throws(() => checkPair(readPair(paths), 'p'), { code: 'KEY_MISMATCH' });
  assert.equal(finishPending(paths), 'finished');
  assert.equal(checkPair(readPair(paths), 'p').serial, checkPair(b, 'b').serial);

  // Leftovers that are not a pair: removed, the current pair untouched.
  paths = await freshPaths();
  const before = checkPair(readPair(paths), 'p').serial;
  writeFileSync(`${paths.cert}.next`, 'half a certif');
  assert.equal(finishPending(paths), 'discarded');
  assert.equal(checkPair(readPair(paths), 'p').serial, before);
  assert.equal(existsSync(`${paths.cert}.next`), false);
});

test('kill -9 at any moment of installations: the next start always has a whole pair', { timeout: 120_000 }, async () => {
  const paths = await freshPaths();
  const original = checkPair(readPair(paths), 'original').serial;
  const pairs = [await newPair(), await newPair()];
  const serials = [original, ...pairs.map((p) => checkPair(p, 'p').serial)];
  const pairsFile = join(dir, 'pairs.json');
  writeFileSync(pairsFile, JSON.stringify(pairs));
  const helper = fileURLToPath(new URL('./install-loop.test-helper.ts', import.meta.url));
  for (let round = 0; round < 12; round++) {
    const child = spawn(process.execPath, ['--import', 'tsx', helper, paths.cert, paths.key, pairsFile], { stdio: ['ignore', 'pipe', 'inherit'] });
    // Wait for the loop to be installing, then kill it somewhere in the middle.
    await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
    await sleep(5 + Math.floor(Math.random() * 60));
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    finishPending(paths);
    const now = checkPair(readPair(paths), `after kill ${round}`);
    assert.ok(serials.includes(now.serial), `round ${round}: an unknown pair`);
    assert.equal(statSync(paths.key).mode & 0o777, 0o600);
  }
});
