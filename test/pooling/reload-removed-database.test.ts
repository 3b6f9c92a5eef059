/**
 * A reload that removes a database: its idle server connections close at once, a session that
 * is still in it goes on until it ends, and then its pool is gone from the gateway and from the
 * heap. Before, every database a reload ever removed kept its Pool (and its idle servers until
 * server_idle_timeout) for the life of the process.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { makePki, type Pki, type ClientFiles } from '../harness/cert-factory.js';
import { startGateway, type RunningGateway } from '../harness/gateway.js';
import { clientTlsSection, nodeSsl, plainUpstream, waitFor } from '../gateway/helpers.js';
import { forceGc } from '../harness/heap.js';

let upstream: PgServer;
let pki: Pki;
let app: ClientFiles;
let gw: RunningGateway;

function config(withOther: boolean): Record<string, unknown> {
  return {
    pool_mode: 'transaction',
    tls: clientTlsSection(pki),
    databases: {
      appdb: plainUpstream(upstream, 'appdb'),
      ...(withOther ? { otherdb: plainUpstream(upstream, 'otherdb') } : {}),
    },
  };
}

before(async () => {
  pki = await makePki();
  app = await pki.client('app');
  upstream = await startPostgres({ setupSql: 'CREATE ROLE app LOGIN; CREATE DATABASE appdb OWNER app; CREATE DATABASE otherdb OWNER app;' });
  gw = await startGateway(config(true));
});
after(async () => {
  await gw?.stop();
  await upstream?.stop();
  pki?.cleanup();
});

async function session(database: string): Promise<pg.Client> {
  const c = new pg.Client({ host: '127.0.0.1', port: gw.port, user: 'app', database, ssl: { ...nodeSsl(app), servername: 'localhost' } });
  c.on('error', () => undefined);
  await c.connect();
  await c.query('select 1');
  return c;
}

function backendsOn(database: string): number {
  return Number(upstream.sql(`SELECT count(*) FROM pg_stat_activity WHERE datname = '${database}' AND usename = 'app'`));
}

/** A weak reference only: a local holding the pool would keep it alive itself. */
function weakPool(key: string): WeakRef<object> {
  const pool = gw.gateway.pools.get(key);
  assert.ok(pool, `${key} has a pool`);
  return new WeakRef(pool);
}

test('the pool of a database removed by a reload goes once its last session ends, and is collected', async () => {
  const staying = await session('otherdb');
  const leaving = await session('otherdb');
  await leaving.end();
  const ref = weakPool('otherdb/app');
  await waitFor(() => backendsOn('otherdb') >= 1, 'a server connection on otherdb');

  await gw.reload(config(false));
  // The session already in it goes on (established sessions keep what they have).
  assert.equal((await staying.query('select 2 as n')).rows[0].n, 2);
  assert.ok(gw.gateway.pools.has('otherdb/app'), 'the pool stays while a session uses it');
  // Its idle server closed at the reload; the one the session uses goes when the session does.
  await staying.end();
  await waitFor(() => !gw.gateway.pools.has('otherdb/app'), 'the pool of the removed database to be dropped');
  await waitFor(() => backendsOn('otherdb') === 0, 'every server connection to otherdb to be closed');
  // A new login to the removed database is refused; appdb is untouched.
  await assert.rejects(session('otherdb'), /database|otherdb/);
  await (await session('appdb')).end();

  await forceGc();
  assert.equal(ref.deref(), undefined, 'nothing else holds the dropped pool');
});
