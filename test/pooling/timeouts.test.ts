/** Each pool timeout ends in a clear ErrorResponse (or a replaced connection) with a real client. */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { makePki, type Pki, type ClientFiles } from '../harness/cert-factory.js';
import { startGateway, type RunningGateway } from '../harness/gateway.js';
import { freePort } from '../harness/free-port.js';
import { clientTlsSection, logEvents, nodeSsl, plainUpstream, waitFor } from '../gateway/helpers.js';

let pgs: PgServer;
let pki: Pki;
let app: ClientFiles;
let blackhole: Server;
let blackholePort: number;

before(async () => {
  pki = await makePki();
  app = await pki.client('app');
  pgs = await startPostgres({ setupSql: 'CREATE ROLE app LOGIN; CREATE DATABASE appdb OWNER app;' });
  // Accepts TCP and never answers: a PostgreSQL that hangs during login.
  blackholePort = await freePort();
  blackhole = createServer((s) => s.on('error', () => undefined));
  await new Promise<void>((r) => blackhole.listen(blackholePort, '127.0.0.1', () => r()));
});

after(async () => {
  blackhole?.close();
  await pgs?.stop();
  pki?.cleanup();
});

async function withGateway(extra: Record<string, unknown>, dbExtra: Record<string, unknown>, fn: (gw: RunningGateway) => Promise<void>): Promise<void> {
  const gw = await startGateway({ tls: clientTlsSection(pki), databases: { appdb: plainUpstream(pgs, 'appdb', dbExtra) }, ...extra });
  try {
    await fn(gw);
  } finally {
    await gw.stop();
  }
}

function client(gw: RunningGateway): pg.Client {
  const c = new pg.Client({ host: '127.0.0.1', port: gw.port, user: 'app', database: 'appdb', ssl: nodeSsl(app) });
  c.on('error', () => undefined);
  return c;
}

async function pid(c: pg.Client): Promise<number> {
  return (await c.query('SELECT pg_backend_pid() AS p')).rows[0].p as number;
}

test('query_wait_timeout: a client that waits too long for a server gets ERROR 57014, keeps its session, and the stall is logged', async () => {
  await withGateway({ query_wait_timeout: '1s' }, { pool_size: 1 }, async (gw) => {
    const holder = client(gw);
    const waiter = client(gw);
    await holder.connect();
    await waiter.connect();
    await holder.query('BEGIN');
    await assert.rejects(waiter.query('SELECT 1'), (e: { code?: string; message: string; severity?: string; detail?: string; hint?: string }) => {
      assert.equal(e.code, '57014');
      assert.equal(e.severity, 'ERROR');
      assert.match(e.message, /query_wait_timeout/);
      // What the pool really had, not its settings.
      assert.match(e.detail ?? '', /^Pool appdb\/app has 1 server connection of at most 1: 1 in use by clients, 0 running pgmoat's own query/);
      assert.match(e.hint ?? '', /can be sent again/);
      return true;
    });
    // The extended protocol (a query with parameters) is refused once per batch, up to its Sync.
    await assert.rejects(waiter.query('SELECT $1::int AS n', [7]), (e: { code?: string }) => e.code === '57014');
    assert.ok(logEvents(gw, 'pool_stalled').length > 0, 'the stalled pool was logged');
    await holder.query('COMMIT');
    await holder.end();
    // The session was kept: once a server is free, the same client is served.
    const r = await waiter.query<{ n: number }>('SELECT $1::int AS n', [7]);
    assert.equal(r.rows[0]!.n, 7);
    await waiter.end();
  });
});

test('client_idle_timeout: an idle session is ended with 57P05', async () => {
  await withGateway({ client_idle_timeout: '1s' }, {}, async (gw) => {
    const c = client(gw);
    const errors: { code?: string }[] = [];
    c.on('error', (e: Error & { code?: string }) => {
      errors.push(e);
    });
    await c.connect();
    await c.query('SELECT 1');
    await waitFor(() => errors.length > 0, 'the idle timeout error', 10_000);
    assert.equal(errors[0]!.code, '57P05');
  });
});

test('idle_transaction_timeout: a transaction left open is ended with 25P03', async () => {
  await withGateway({ idle_transaction_timeout: '1s' }, {}, async (gw) => {
    const c = client(gw);
    const errors: { code?: string }[] = [];
    c.on('error', (e: Error & { code?: string }) => {
      errors.push(e);
    });
    await c.connect();
    await c.query('BEGIN');
    await waitFor(() => errors.length > 0, 'the idle-in-transaction error', 10_000);
    assert.equal(errors[0]!.code, '25P03');
    // The server connection was in a transaction: it is closed, not reused.
    await waitFor(() => gw.gateway.pools.get('appdb/app')!.serverCount === 0, 'the server connection to close');
  });
});

test('server_connect_timeout: an upstream that never answers gives a clear error', async () => {
  const gw = await startGateway({
    tls: clientTlsSection(pki),
    // Timeouts are retried (the server may be starting) until the login's own deadline.
    client_login_timeout: '3s',
    databases: { appdb: { host: '127.0.0.1', port: blackholePort, dbname: 'appdb', environment: 'production', tls: { mode: 'disable' }, server_connect_timeout: '1s' } },
  });
  try {
    const c = client(gw);
    await assert.rejects(c.connect(), (e: { code?: string; message: string; detail?: string }) => {
      assert.equal(e.code, '08001');
      assert.match(e.message, /server_connect_timeout/);
      assert.match(e.detail ?? '', /client_login_timeout/);
      return true;
    });
  } finally {
    await gw.stop();
  }
});

test('server_idle_timeout closes idle server connections; server_lifetime retires them when idle', async () => {
  await withGateway({ server_idle_timeout: '1s' }, {}, async (gw) => {
    const c = client(gw);
    await c.connect();
    await c.query('SELECT 1');
    await c.end();
    await waitFor(() => gw.gateway.pools.get('appdb/app')!.serverCount === 0, 'the idle server to be closed', 10_000);
  });
  await withGateway({ server_lifetime: '1s', pool_mode: 'transaction' }, {}, async (gw) => {
    const c = client(gw);
    await c.connect();
    const first = await pid(c);
    await sleep(1500);
    const second = await pid(c);
    assert.notEqual(first, second, 'a server past server_lifetime is replaced at its next idle moment');
    await c.end();
  });
});

test('server_check_query runs before reusing a connection idle longer than server_check_delay', async () => {
  // A check that always fails: every reuse replaces the connection.
  await withGateway({ server_check_query: 'SELECT 1/0', server_check_delay: 0, pool_mode: 'transaction' }, {}, async (gw) => {
    const c = client(gw);
    await c.connect();
    const a = await pid(c);
    const b = await pid(c);
    assert.notEqual(a, b);
    await c.end();
  });
  // A check that passes keeps the connection.
  await withGateway({ server_check_query: 'SELECT 1', server_check_delay: 0, pool_mode: 'transaction' }, {}, async (gw) => {
    const c = client(gw);
    await c.connect();
    const a = await pid(c);
    const b = await pid(c);
    assert.equal(a, b);
    await c.end();
  });
});

test('statement mode refuses a transaction block', async () => {
  await withGateway({ pool_mode: 'statement' }, {}, async (gw) => {
    const c = client(gw);
    await c.connect();
    assert.equal((await c.query('SELECT 41 + 1 AS v')).rows[0].v, 42);
    await assert.rejects(c.query('BEGIN'), (e: { code?: string; message: string }) => {
      assert.equal(e.code, '0A000');
      assert.match(e.message, /statement pooling mode/);
      return true;
    });
  });
});
