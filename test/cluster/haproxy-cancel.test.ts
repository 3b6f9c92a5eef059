/**
 * 100 cancels of `SELECT pg_sleep(30)` through HAProxy in front of three gateways: the session
 * and its CancelRequest each go where roundrobin sends them, so most cancels reach another gateway
 * than the session's and are forwarded to its peer. Every query ends with 57014. The slowest
 * cancel-to-error time is printed for the record (no timing assertion: the machine is shared).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { waitFor } from '../gateway/helpers.js';
import { RawConn, cancelRequest } from '../gateway/raw-wire.js';
import { haproxySkip, startHaCluster, type HaCluster } from './haproxy-cluster.js';

/**
 * PROXY protocol v2 from HAProxy to the gateways (their listen.proxy_protocol trusts 127.0.0.1) and
 * on forwarded cancels between peers; false runs the same tests without it.
 */
const SEND_PROXY_V2 = true;
const CANCELS = 100;
/** Sessions sleeping at once: three pools of 25 leave room for roundrobin's unevenness. */
const CONCURRENCY = 20;

let c: HaCluster;

before(async () => {
  if (haproxySkip) return;
  // debug: the gateways log each forwarded cancel (cancel_forwarded), which the test counts.
  c = await startHaCluster({ sendProxyV2: SEND_PROXY_V2, poolSize: 25, gatewaySettings: { log: { level: 'debug' } } });
});
after(async () => {
  await c?.close();
});

async function running(marker: string): Promise<void> {
  await waitFor(
    async () => {
      const r = await c.monitor.query<{ n: string }>("SELECT count(*) AS n FROM pg_stat_activity WHERE state = 'active' AND query LIKE $1", [`%/* ${marker} */%`]);
      return r.rows[0]!.n !== '0';
    },
    `the upstream to run ${marker}`,
    30_000,
  );
}

interface Outcome {
  readonly code: string | undefined;
  readonly message: string;
  /** From the cancel's first byte to the query's error (ms). */
  readonly cancelToErrorMs: number;
  /** The gateway holding the session (its peer id, from the cancel key). */
  readonly holder: number;
}

async function cancelOne(n: number): Promise<Outcome> {
  const marker = `hap-cancel-${n}`;
  const client = new pg.Client(c.pgConfig());
  await client.connect();
  try {
    let errorAt = 0;
    const outcome = client.query(`SELECT pg_sleep(30) /* ${marker} */`).then(
      () => undefined,
      (err: Error & { code?: string }) => {
        errorAt = performance.now();
        return err;
      },
    );
    await running(marker);
    const key = client as unknown as { processID: number; secretKey: number };
    // A new connection through HAProxy: roundrobin picks its gateway.
    const conn = await RawConn.open(c.hap.port);
    const sentAt = performance.now();
    conn.write(cancelRequest(key.processID, key.secretKey));
    const err = await outcome;
    conn.destroy();
    assert.equal((await client.query<{ n: number }>('SELECT 1 AS n')).rows[0]!.n, 1, `${marker}: the session goes on after its cancel`);
    return { code: err?.code, message: err?.message ?? 'not cancelled', cancelToErrorMs: errorAt - sentAt, holder: Math.floor(key.processID / 2 ** 23) };
  } finally {
    await client.end();
  }
}

test(`${CANCELS} cancels of pg_sleep(30) through HAProxy, landing on any gateway: every query ends with 57014`, { skip: haproxySkip, timeout: 600_000 }, async () => {
  const outcomes: Outcome[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < CANCELS) outcomes.push(await cancelOne(next++));
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  assert.equal(outcomes.length, CANCELS);
  const wrong = outcomes.filter((o) => o.code !== '57014');
  assert.deepEqual(wrong, [], 'every query was cancelled');
  const forwarded = c.gws.reduce((sum, g) => sum + g.logs().filter((l) => l.event === 'cancel_forwarded').length, 0);
  const failedForwards = c.gws.flatMap((g) => g.logs().filter((l) => l.event === 'peer_cancel_failed'));
  assert.deepEqual(failedForwards, []);
  const holders = [1, 2, 3].map((id) => outcomes.filter((o) => o.holder === id).length);
  const times = outcomes.map((o) => o.cancelToErrorMs).sort((a, b) => a - b);
  const slowest = times.at(-1)!;
  const median = times[Math.floor(times.length / 2)]!;
  // Informational: the issue asks for the figure; machines here are shared, so it is not asserted.
  console.log(
    `haproxy cancels: ${CANCELS} of ${CANCELS} ended with 57014; ${forwarded} forwarded to the peer holding the session; ` +
      `sessions per gateway ${holders.join('/')}; cancel-to-error median ${median.toFixed(1)} ms, slowest ${slowest.toFixed(1)} ms`,
  );
  assert.ok(forwarded > 0, 'some cancels reached another gateway than the session and were forwarded');
});
