/**
 * The CI-sized fuzz run (issue 12): a few thousand inputs over all three layers with a fixed
 * seed against `pgmoat serve` as a process; every batch's checks must pass. And a check of the
 * checker: a pool held busy by a real client is reported, and passes once that client is gone.
 * The full run is `npm run fuzz -- --inputs 1000000` (README, Reliability).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FuzzTarget } from './target.js';
import { DEFAULT_OPTIONS, fuzz } from './fuzzer.js';
import { runChecks, takeBaseline, DEFAULT_CHECKS } from './checks.js';

const SEED = 20261202;
const INPUTS = 3000;

let target: FuzzTarget;
before(async () => {
  target = await FuzzTarget.start();
});
after(async () => {
  await target?.stop();
});

test('the checks report a pool held busy by a client, and pass once it is gone', async () => {
  const checks = { ...DEFAULT_CHECKS, settleMs: 1500, queryMs: 3000 };
  const baseline = await takeBaseline(target, checks);
  const c = new pg.Client({ host: '127.0.0.1', port: target.port, user: 'app', database: 'txdb', ssl: target.ssl('app') });
  await c.connect();
  try {
    await c.query('BEGIN');
    const busy = await runChecks(target, checks, baseline);
    assert.equal(busy.ok, false);
    assert.equal(busy.failure?.check, 'settled');
    assert.match(busy.failure!.message, /txdb\/app: 1 client\(s\) active/);
  } finally {
    await c.end();
  }
  const ok = await runChecks(target, { ...checks, settleMs: 10_000 }, baseline);
  assert.equal(ok.ok, true, JSON.stringify(ok.failure));
});

test('the checks report leaked descriptors (sockets that stay open) and pass once they close', async () => {
  const checks = { ...DEFAULT_CHECKS, settleMs: 1500, queryMs: 5000 };
  const baseline = await takeBaseline(target, checks);
  // Connections that say nothing: pgmoat holds them until client_login_timeout (15 s).
  const idle: Socket[] = await Promise.all(
    Array.from({ length: 6 }, () => new Promise<Socket>((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port: target.port }, () => resolve(s));
      s.on('error', reject);
    })),
  );
  try {
    const leak = await runChecks(target, checks, baseline);
    assert.equal(leak.failure?.check, 'fds', JSON.stringify(leak.failure));
  } finally {
    for (const s of idle) s.destroy();
  }
  const ok = await runChecks(target, { ...checks, settleMs: 10_000 }, baseline);
  assert.equal(ok.ok, true, JSON.stringify(ok.failure));
});

test('the checks report a server connection that never answers (its backend stopped), and pass once it is gone', async () => {
  const checks = { ...DEFAULT_CHECKS, settleMs: 5000, queryMs: 3000 };
  const baseline = await takeBaseline(target, checks);
  const backends = await target.upstreamBackends();
  assert.ok(backends.length > 0);
  const frozen = backends[0]!.pid;
  process.kill(frozen, 'SIGSTOP');
  try {
    const wedged = await runChecks(target, checks, baseline);
    assert.equal(wedged.failure?.check, 'query', JSON.stringify(wedged.failure));
    assert.match(wedged.failure!.message, /no answer within 3000 ms/);
  } finally {
    process.kill(frozen, 'SIGCONT');
  }
  const ok = await runChecks(target, { ...checks, settleMs: 10_000 }, baseline);
  assert.equal(ok.ok, true, JSON.stringify(ok.failure));
});

test(`fuzz: ${INPUTS} inputs (seed ${SEED}), all three layers, checks after every batch of 500`, async () => {
  const lines: string[] = [];
  const summary = await fuzz(
    { ...DEFAULT_OPTIONS, inputs: INPUTS, seed: SEED, batch: 500, outDir: join(tmpdir(), 'pgmoat-fuzz-failures'), log: (l) => lines.push(l) },
    target,
  );
  const failed = summary.failures.map((f) => `batch ${f.batch}: ${f.check}: ${f.message} (saved in ${f.file})`);
  assert.deepEqual(failed, [], `checks failed:\n${failed.join('\n')}\n\nrun log:\n${lines.join('\n').slice(0, 20_000)}`);
  assert.ok(summary.inputs >= INPUTS);
  // The fuzzer must actually reach each layer: TLS handshakes that complete, logins, probes answered.
  for (const layer of ['pre-tls', 'tls', 'post-login'] as const) assert.ok(summary.inputsByLayer[layer] > 100, `${layer}: ${summary.inputsByLayer[layer]} inputs`);
  assert.ok((summary.outcomes['post-login:completed'] ?? 0) > 50, `post-login scripts that ran to their end: ${JSON.stringify(summary.outcomes)}`);
  assert.ok((summary.kinds['post-login:huge-claim'] ?? 0) > 0, 'the half-message input was sent');
});
