/**
 * 500 concurrent TLS clients over a pool of 10: every client gets its answer, and neither
 * pgmoat's pool nor PostgreSQL's own pg_stat_activity ever shows more than 10 server
 * connections.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import type { PgServer } from '../harness/postgres.js';
import type { ClientFiles, Pki } from '../harness/cert-factory.js';
import type { RunningGateway } from '../harness/gateway.js';
import { nodeSsl, useAppGateway } from './helpers.js';

const CLIENTS = 500;
const POOL_SIZE = 10;

let upstream: PgServer;
let pki: Pki;
let gw: RunningGateway;
let app: ClientFiles;

useAppGateway(
  { gateway: { max_client_conn: 2000, client_login_timeout: '60s', query_wait_timeout: '120s' }, database: { pool_size: POOL_SIZE } },
  (parts) => {
    ({ pki, upstream, app, gw } = parts);
  },
);

test(`${CLIENTS} concurrent clients over a pool of ${POOL_SIZE}: all succeed, never more than ${POOL_SIZE} server connections`, async () => {
  const ssl = nodeSsl(app);
  let maxPool = 0;
  let maxUpstream = 0;
  let maxClients = 0;
  const sampler = setInterval(() => {
    const pool = gw.gateway.pools.get('appdb/app');
    if (!pool) return;
    maxPool = Math.max(maxPool, pool.serverCount);
    maxClients = Math.max(maxClients, pool.clientCount);
  }, 5);
  // PostgreSQL's own count, from a connection that does not go through pgmoat.
  const monitor = new pg.Client({ host: '127.0.0.1', port: upstream.port, user: 'postgres', database: 'postgres' });
  await monitor.connect();
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      const r = await monitor.query<{ n: string }>("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = 'appdb' AND backend_type = 'client backend'");
      maxUpstream = Math.max(maxUpstream, Number(r.rows[0]!.n));
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();

  // Every client logs in first and queries only once all are in: 500 sessions at once, whatever
  // the order in which this one process gets through the TLS handshakes.
  let connected = 0;
  let allIn!: () => void;
  const barrier = new Promise<void>((resolve) => (allIn = resolve));
  const arrived = (): void => {
    if (++connected === CLIENTS) {
      maxClients = Math.max(maxClients, gw.gateway.pools.get('appdb/app')?.clientCount ?? 0);
      allIn();
    }
  };
  const outcomes = await Promise.allSettled(
    Array.from({ length: CLIENTS }, async (_, i) => {
      const c = new pg.Client({ host: '127.0.0.1', port: gw.port, user: 'app', database: 'appdb', ssl, connectionTimeoutMillis: 120_000 });
      c.on('error', () => undefined);
      try {
        await c.connect();
      } finally {
        arrived(); // a failed login must not hold the others back
      }
      await barrier;
      try {
        const r = await c.query<{ n: number }>('SELECT $1::int AS n, pg_sleep(0.01)', [i]);
        return r.rows[0]!.n;
      } finally {
        await c.end();
      }
    }),
  );
  clearInterval(sampler);
  watching = false;
  await watcher;
  await monitor.end();

  const failures = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
  assert.deepEqual(
    failures.slice(0, 5).map((f) => String((f.reason as Error).message)),
    [],
    `${failures.length} of ${CLIENTS} clients failed`,
  );
  assert.deepEqual(
    outcomes.map((o) => (o as PromiseFulfilledResult<number>).value),
    Array.from({ length: CLIENTS }, (_, i) => i),
    'every client got its own answer',
  );
  assert.equal(maxPool, POOL_SIZE, `pgmoat's pool reached ${maxPool} server connections (the whole pool is used, never more)`);
  assert.ok(maxUpstream <= POOL_SIZE, `PostgreSQL saw ${maxUpstream} connections to appdb`);
  assert.ok(maxUpstream > 0, 'the watcher saw the pool at work (else its bound proves nothing)');
  assert.equal(maxClients, CLIENTS, 'all clients were logged in at once');
  const pool = gw.gateway.pools.get('appdb/app')!;
  assert.equal(pool.clientCount, 0, 'every client left');
  assert.ok(pool.stats.serverConnects <= POOL_SIZE + 2, `server connections were reused (${pool.stats.serverConnects} opened)`);
});
