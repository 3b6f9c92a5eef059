/** max_db_connections across the pools of a database, and the reserve pool after reserve_pool_timeout. */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { makePki, type Pki, type ClientFiles } from '../harness/cert-factory.js';
import { startGateway } from '../harness/gateway.js';
import { clientTlsSection, nodeSsl, plainUpstream } from '../gateway/helpers.js';

let pgs: PgServer;
let pki: Pki;
let app: ClientFiles;
let app2: ClientFiles;

before(async () => {
  pki = await makePki();
  app = await pki.client('app');
  app2 = await pki.client('app2');
  pgs = await startPostgres({ setupSql: 'CREATE ROLE app LOGIN; CREATE ROLE app2 LOGIN; CREATE DATABASE appdb OWNER app;' });
});

after(async () => {
  await pgs?.stop();
  pki?.cleanup();
});

async function client(port: number, c: ClientFiles): Promise<pg.Client> {
  const cl = new pg.Client({ host: '127.0.0.1', port, user: c.name, database: 'appdb', ssl: nodeSsl(c) });
  cl.on('error', () => undefined);
  await cl.connect();
  return cl;
}

function upstreamBackends(): number {
  return Number(pgs.sql("SELECT count(*) FROM pg_stat_activity WHERE datname = 'appdb' AND backend_type = 'client backend'"));
}

test('max_db_connections caps server connections across the pools (roles) of one database', async () => {
  const gw = await startGateway({
    tls: clientTlsSection(pki),
    pool_mode: 'transaction',
    databases: { appdb: plainUpstream(pgs, 'appdb', { pool_size: 5, max_db_connections: 1 }) },
  });
  try {
    const a = await client(gw.port, app); // logs in: opens the first server of pool appdb/app
    const bLogin = client(gw.port, app2); // pool appdb/app2 needs its own server: it waits for the cap
    let bDone = false;
    const bQuery = bLogin.then(async (b) => {
      const r = await b.query('SELECT current_user AS u');
      bDone = true;
      await b.end();
      return r.rows[0].u as string;
    });
    await sleep(800);
    assert.equal(bDone, false, 'the second pool waits while the database is at max_db_connections');
    assert.ok(upstreamBackends() <= 1);
    // Room is made when the first pool's server goes (here: RECONNECT closes it while idle).
    await a.end();
    gw.gateway.pools.get('appdb/app')!.reconnect();
    assert.equal(await bQuery, 'app2');
    assert.ok(upstreamBackends() <= 1);
  } finally {
    await gw.stop();
  }
});

test('the reserve pool opens beyond pool_size once a client has waited reserve_pool_timeout', async () => {
  const gw = await startGateway({
    tls: clientTlsSection(pki),
    databases: { appdb: plainUpstream(pgs, 'appdb', { pool_size: 1, reserve_pool_size: 1, reserve_pool_timeout: '500ms' }) },
  });
  try {
    const a = await client(gw.port, app);
    const b = await client(gw.port, app);
    await a.query('BEGIN'); // session mode: a keeps its server
    const r = await b.query('SELECT 1 AS v'); // served by the reserve connection after ~500 ms
    assert.equal(r.rows[0].v, 1);
    assert.equal(gw.gateway.pools.get('appdb/app')!.serverCount, 2);
    await a.query('COMMIT');
    await Promise.all([a.end(), b.end()]);
  } finally {
    await gw.stop();
  }
});

test('min_pool_size keeps that many server connections open once the pool exists', async () => {
  const gw = await startGateway({
    tls: clientTlsSection(pki),
    min_pool_size: 3,
    server_idle_timeout: '1s',
    databases: { appdb: plainUpstream(pgs, 'appdb', { pool_size: 5 }) },
  });
  try {
    const a = await client(gw.port, app);
    await a.end();
    const pool = gw.gateway.pools.get('appdb/app')!;
    for (let i = 0; i < 200 && pool.serverCount < 3; i++) await sleep(25);
    assert.equal(pool.serverCount, 3);
    // server_idle_timeout does not take it below the minimum.
    await sleep(1800);
    assert.equal(pool.serverCount, 3);
  } finally {
    await gw.stop();
  }
});
