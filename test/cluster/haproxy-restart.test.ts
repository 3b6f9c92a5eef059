/**
 * Restarts behind HAProxy under `pgbench -C` (a new TLS connection and login per transaction),
 * three gateways, one PostgreSQL, HAProxy checking /readyz every 200 ms:
 * - rolling restart with SIGTERM, one gateway after the other (shutdown_drain_delay 1s lets
 *   HAProxy see "draining" before the port closes): pgbench sees no error at all;
 * - SIGKILL of one gateway: only the connections in flight on it may fail. The test counts them
 *   (pgbench's aborted clients, next to HAProxy's count of connections the killed server cut) and
 *   checks that every other connection, and every new one once HAProxy saw it down, succeeds.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from '../gateway/helpers.js';
import { haproxySkip, pgbenchFigures, pgbenchThrough, readyz, startHaCluster, type HaCluster, type PgbenchRun } from './haproxy-cluster.js';

/**
 * PROXY protocol v2 from HAProxy to the gateways (their listen.proxy_protocol trusts 127.0.0.1) and
 * on forwarded cancels between peers; false runs the same tests without it.
 */
const SEND_PROXY_V2 = true;
/** pgbench runs back to back in slices of this many seconds until the restarts are done. */
const SLICE_SECONDS = 4;

let c: HaCluster;

before(async () => {
  if (haproxySkip) return;
  c = await startHaCluster({
    sendProxyV2: SEND_PROXY_V2,
    poolSize: 4,
    pgbench: true,
    checkIntervalMs: 200,
    gatewaySettings: { shutdown_drain_delay: '1s', shutdown_timeout: '30s' },
  });
});
after(async () => {
  await c?.close();
});

/**
 * `pgbench -n -C -c <clients> -T <SLICE_SECONDS>` again and again from now until `done()` holds
 * after a slice: pgbench runs through the whole of what the caller does meanwhile.
 */
function pgbenchUntil(clients: number, done: () => boolean): { runs: Promise<PgbenchRun[]> } {
  const runs = (async () => {
    const out: PgbenchRun[] = [];
    do out.push(await pgbenchThrough(c, ['-n', '-C', '-c', String(clients), '-T', String(SLICE_SECONDS)]));
    while (!done());
    return out;
  })();
  return { runs };
}

async function sessionsOn(id: number): Promise<number> {
  return (await c.backend(id)).totalSessions;
}

/** Waits until HAProxy has sent `more` new connections to gateway `id`. */
async function trafficOn(id: number, more: number): Promise<void> {
  const from = await sessionsOn(id);
  await waitFor(async () => (await sessionsOn(id)) >= from + more, `pgbench's connections to reach gw${id}`, 60_000);
}

function summary(runs: PgbenchRun[]): { processed: number; failed: number; aborted: number; errorLines: string[]; codes: number[] } {
  const f = runs.map(pgbenchFigures);
  return {
    processed: f.reduce((s, x) => s + x.processed, 0),
    failed: f.reduce((s, x) => s + x.failed, 0),
    aborted: f.reduce((s, x) => s + x.aborted, 0),
    errorLines: f.flatMap((x) => x.errorLines),
    codes: runs.map((r) => r.code),
  };
}

test('rolling restart (SIGTERM, one gateway at a time) under pgbench -C through HAProxy: zero failed connections', { skip: haproxySkip, timeout: 600_000 }, async () => {
  let restarted = false;
  const bench = pgbenchUntil(4, () => restarted);
  try {
    for (const g of c.gws) {
      await trafficOn(g.id, 5);
      const exit = g.stop('SIGTERM');
      await c.waitBackend(g.id, 'DOWN');
      assert.equal(await exit, 0, `gw${g.id} exits 0 after its drain:\n${g.output().slice(-4000)}`);
      assert.match(g.output(), /"event":"drain_finished"/, `gw${g.id} drained`);
      await g.start();
      await c.waitBackend(g.id, 'UP');
    }
    // The last one takes connections again before pgbench stops.
    await trafficOn(3, 5);
  } finally {
    restarted = true;
  }
  const runs = await bench.runs;
  const s = summary(runs);
  console.log(
    `haproxy rolling restart: ${runs.length} pgbench -C slices of ${SLICE_SECONDS}s, ${s.processed} transactions (one connection each), ` +
      `${s.failed} failed, ${s.aborted} clients aborted, exit codes ${s.codes.join(',')}`,
  );
  assert.deepEqual(s.errorLines, [], runs.map((r) => r.stderr).join('\n'));
  assert.deepEqual(s.codes.filter((x) => x !== 0), [], 'every pgbench slice exits 0');
  assert.equal(s.failed, 0);
  assert.equal(s.aborted, 0);
  assert.ok(s.processed > 0);
});

/** HAProxy's figures for the server of gateway `id`. */
async function counters(id: number): Promise<{ current: number; total: number; redispatches: number }> {
  const row = (await c.hap.serverStats()).find((r) => r.svname === `gw${id}`)!;
  const n = (k: string): number => Number(row[k] || 0);
  return { current: n('scur'), total: n('stot'), redispatches: n('wredis') };
}

/** What a pgbench client whose connection was on the killed gateway may say. */
const IN_FLIGHT = /aborted|server closed the connection unexpectedly|SSL SYSCALL error|connection to server was lost|EOF detected|Connection reset|could not receive data|SSL error|unexpected eof/i;

test('SIGKILL of one gateway under pgbench -C: only connections in flight on it fail (counted); new ones go to the others', { skip: haproxySkip, timeout: 600_000 }, async () => {
  const victim = c.gws[1]!;
  for (const g of c.gws) await c.waitBackend(g.id, 'UP');
  let killed = false;
  const clients = 6;
  const bench = pgbenchUntil(clients, () => killed);
  let inFlight = 0;
  let redispatchedFrom = 0;
  try {
    await trafficOn(victim.id, 10);
    // A connection on the gateway at the kill was open when HAProxy counted `scur` just before,
    // or came after that (in stot's growth up to the exit): an upper bound of those in flight.
    const atKill = await counters(victim.id);
    victim.proc.kill('SIGKILL');
    await new Promise<void>((resolve) => (victim.proc.exitCode !== null || victim.proc.signalCode !== null ? resolve() : victim.proc.once('exit', () => resolve())));
    const exited = await counters(victim.id);
    inFlight = atKill.current + (exited.total - atKill.total);
    redispatchedFrom = exited.redispatches;
    await c.waitBackend(victim.id, 'DOWN');
  } finally {
    killed = true;
  }
  const runs = await bench.runs;
  // Once HAProxy has the gateway down, new connections all go to the other two.
  const afterDown = await pgbenchThrough(c, ['-n', '-C', '-c', '4', '-t', '25']);
  const after = await counters(victim.id);
  const s = summary(runs);
  console.log(
    `haproxy SIGKILL: ${s.processed} transactions in ${runs.length} pgbench -C slices (${clients} clients); ` +
      `${s.aborted} clients aborted (failed connections), ${s.failed} failed transactions; at most ${inFlight} connections were on the killed gateway; ` +
      `${after.redispatches - redispatchedFrom} connections redispatched by HAProxy after the kill`,
  );
  if (s.errorLines.length > 0) console.log(`pgbench errors at the SIGKILL:\n${s.errorLines.join('\n')}`);
  // Only connections that were on the killed gateway fail: no more clients abort than were on it,
  // and each error reads as a lost connection.
  assert.ok(s.aborted <= inFlight, `${s.aborted} clients aborted, at most ${inFlight} connections were on the killed gateway`);
  assert.deepEqual(s.errorLines.filter((l) => !IN_FLIGHT.test(l)), [], 'every failure is a connection lost in flight');
  const a = pgbenchFigures(afterDown);
  assert.equal(afterDown.code, 0, `after HAProxy saw the gateway down:\n${afterDown.stderr}`);
  assert.equal(a.processed, 100);
  assert.deepEqual(a.errorLines, []);
  // Back for whatever runs next.
  await victim.start();
  await c.waitBackend(victim.id, 'UP');
  assert.equal(await readyz(victim.httpPort), 200);
});
