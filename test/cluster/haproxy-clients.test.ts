/**
 * Through HAProxy (TCP mode, roundrobin) in front of three `pgmoat serve` processes and one
 * PostgreSQL: psql, pgbench in transaction pooling (simple and extended protocol, and a new
 * connection per transaction) and node-postgres all work with the client's certificate, their
 * connections reach every gateway, and with PROXY v2 on every login is logged with the header's
 * address and HAProxy's as `via`.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { conninfo, psql } from '../harness/psql.js';
import { haproxySkip, pgbenchFigures, pgbenchThrough, startHaCluster, type HaCluster } from './haproxy-cluster.js';

/**
 * PROXY protocol v2 from HAProxy to the gateways (their listen.proxy_protocol trusts 127.0.0.1) and
 * on forwarded cancels between peers; false runs the same tests without it.
 */
const SEND_PROXY_V2 = true;

let c: HaCluster;

before(async () => {
  if (haproxySkip) return;
  c = await startHaCluster({ sendProxyV2: SEND_PROXY_V2, poolSize: 4, pgbench: true });
});
after(async () => {
  await c?.close();
});

async function sessionsPerBackend(): Promise<number[]> {
  return (await c.hap.backends()).map((b) => b.totalSessions);
}

test('psql through HAProxy: the query runs, as app, on the upstream', { skip: haproxySkip }, async () => {
  for (let i = 0; i < 3; i++) {
    const r = await psql(conninfo(c.hap.port, { user: 'app', dbname: 'appdb', cert: c.app }), "SELECT current_user || ':' || current_database()");
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'app:appdb');
  }
});

for (const mode of ['simple', 'extended'] as const) {
  test(`pgbench -c 4 -t 50 -M ${mode} through HAProxy (transaction pooling): no errors`, { skip: haproxySkip }, async () => {
    const r = await pgbenchThrough(c, ['-n', '-c', '4', '-t', '50', '-M', mode]);
    const f = pgbenchFigures(r);
    assert.equal(r.code, 0, `pgbench failed:\n${r.stderr}\n${r.stdout}`);
    assert.equal(f.processed, 200, r.stdout);
    assert.equal(f.failed, 0);
    assert.deepEqual(f.errorLines, []);
  });
}

test('pgbench -C (a TLS login per transaction) through HAProxy: no errors, every gateway takes some', { skip: haproxySkip }, async () => {
  const before = await sessionsPerBackend();
  const r = await pgbenchThrough(c, ['-n', '-C', '-c', '3', '-t', '20']);
  const f = pgbenchFigures(r);
  assert.equal(r.code, 0, `pgbench failed:\n${r.stderr}\n${r.stdout}`);
  assert.equal(f.processed, 60, r.stdout);
  assert.deepEqual(f.errorLines, []);
  const after = await sessionsPerBackend();
  for (const [i, n] of after.entries()) assert.ok(n - before[i]! >= 10, `gw${i + 1} took ${n - before[i]!} of 60 connections (roundrobin)`);
});

test('node-postgres through HAProxy: sessions on all three gateways, each with its peer id in its cancel key', { skip: haproxySkip }, async () => {
  const clients = Array.from({ length: 6 }, () => new pg.Client(c.pgConfig()));
  try {
    for (const cl of clients) await cl.connect();
    const peers = new Set<number>();
    for (const cl of clients) {
      const r = await cl.query<{ n: number; u: string }>('SELECT $1::int * 7 AS n, current_user AS u', [6]);
      assert.deepEqual(r.rows[0], { n: 42, u: 'app' });
      // The gateway's peer id is the top bits of the BackendKeyData pid (2^23 per peer).
      peers.add(Math.floor((cl as unknown as { processID: number }).processID / 2 ** 23));
    }
    assert.deepEqual([...peers].sort(), [1, 2, 3], 'roundrobin put the six sessions on the three gateways');
  } finally {
    for (const cl of clients) await cl.end().catch(() => undefined);
  }
});

test('every gateway logged its logins, through the PROXY header when it is on; none refused a header', { skip: haproxySkip }, async () => {
  for (const g of c.gws) {
    const logins = g.logs().filter((l) => l.event === 'login' && l.audit === true);
    assert.ok(logins.length > 0, `gw${g.id} logged logins`);
    // The clients are on 127.0.0.1 like HAProxy: `via` is what tells that a header gave `remote`.
    if (SEND_PROXY_V2) assert.deepEqual(logins.filter((l) => l.via !== '127.0.0.1' || l.remote !== '127.0.0.1'), [], `gw${g.id}: every login came through HAProxy's header`);
    else assert.deepEqual(logins.filter((l) => l.via !== undefined), []);
    assert.deepEqual(g.logs().filter((l) => l.event === 'proxy_refused'), []);
  }
});
