/**
 * Session pooling hygiene: what one client does to its server connection (SET, temp tables,
 * prepared statements, LISTEN, an open transaction) never reaches the next client of the same
 * connection, and each client's own startup parameters (application_name, options -c ...) are
 * applied on whatever connection it gets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import type { PgServer } from '../harness/postgres.js';
import type { ClientFiles, Pki } from '../harness/cert-factory.js';
import type { RunningGateway } from '../harness/gateway.js';
import { conninfo, psql } from '../harness/psql.js';
import { APP_SETUP_SQL, nodeSsl, pgSocket, useAppGateway } from './helpers.js';

let upstream: PgServer;
let pki: Pki;
let gw: RunningGateway;
let app: ClientFiles;

useAppGateway(
  {
    setupSql: `${APP_SETUP_SQL}
      \\c appdb
      CREATE SCHEMA s1 AUTHORIZATION app; CREATE SCHEMA s2 AUTHORIZATION app;`,
    database: { pool_size: 1 },
  },
  (parts) => {
    ({ pki, upstream, app, gw } = parts);
  },
);

async function connected(extra: Partial<pg.ClientConfig> = {}): Promise<pg.Client> {
  const c = new pg.Client({ host: '127.0.0.1', port: gw.port, user: 'app', database: 'appdb', ssl: nodeSsl(app), ...extra });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

async function one<T>(c: pg.Client, sql: string): Promise<T> {
  const r = await c.query(sql);
  return Object.values(r.rows[0] as Record<string, unknown>)[0] as T;
}

test('SET, temp tables, prepared statements and advisory locks do not leak into the next client (pool_size 1)', async () => {
  const a = await connected();
  const pidA = await one<number>(a, 'SELECT pg_backend_pid()');
  const defaults = { work_mem: await one<string>(a, 'SHOW work_mem'), search_path: await one<string>(a, 'SHOW search_path') };
  await a.query("SET work_mem = '7MB'");
  await a.query('SET search_path = s1');
  await a.query("SELECT set_config('statement_timeout', '12345', false)");
  await a.query('CREATE TEMP TABLE scratch (x int)');
  await a.query('PREPARE leaked AS SELECT 1');
  await a.query('SELECT pg_advisory_lock(42)');
  assert.equal(await one<string>(a, 'SHOW work_mem'), '7MB');
  await a.end();

  const b = await connected();
  try {
    assert.equal(await one<number>(b, 'SELECT pg_backend_pid()'), pidA, 'the same server connection (else this test proves nothing)');
    assert.equal(await one<string>(b, 'SHOW work_mem'), defaults.work_mem);
    assert.equal(await one<string>(b, 'SHOW search_path'), defaults.search_path);
    assert.equal(await one<string>(b, 'SHOW statement_timeout'), '0');
    assert.equal(await one<string>(b, "SELECT count(*) FROM pg_prepared_statements WHERE name = 'leaked'"), '0');
    assert.equal(await one<string | null>(b, "SELECT to_regclass('pg_temp.scratch')::text"), null);
    assert.equal(await one<string>(b, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 42"), '0');
  } finally {
    await b.end();
  }
});

test('a client that leaves inside a transaction does not hand its transaction to the next one', async () => {
  const a = await connected();
  await a.query('BEGIN');
  await a.query('CREATE TABLE uncommitted (x int)');
  // Gone without COMMIT or Terminate.
  pgSocket(a).destroy();
  const b = await connected();
  try {
    assert.equal(await one<boolean>(b, 'SELECT now() = statement_timestamp()'), true, 'b starts outside any transaction');
    assert.equal(await one<string | null>(b, "SELECT to_regclass('public.uncommitted')::text"), null);
    await b.query('BEGIN');
    await b.query('ROLLBACK');
  } finally {
    await b.end();
  }
});

test("startup parameters (application_name, options -c search_path) apply on the shared connection, per client", async () => {
  const a = await connected({ application_name: 'client-a', options: '-c search_path=s1 -c work_mem=3MB' });
  const pidA = await one<number>(a, 'SELECT pg_backend_pid()');
  assert.equal(await one<string>(a, 'SHOW application_name'), 'client-a');
  assert.equal(await one<string>(a, 'SHOW search_path'), 's1');
  assert.equal(await one<string>(a, 'SHOW work_mem'), '3MB');
  await a.end();

  const b = await connected({ application_name: 'client-b', options: '-c search_path=s2' });
  try {
    assert.equal(await one<number>(b, 'SELECT pg_backend_pid()'), pidA);
    assert.equal(await one<string>(b, 'SHOW application_name'), 'client-b');
    assert.equal(await one<string>(b, 'SHOW search_path'), 's2');
    assert.equal(await one<string>(b, 'SHOW work_mem'), '4MB', "a's work_mem does not stay");
  } finally {
    await b.end();
  }

  const c = await connected();
  try {
    assert.equal(await one<string>(c, 'SHOW application_name'), '', 'no application_name left over from b');
    assert.equal(await one<string>(c, 'SHOW search_path'), '"$user", public');
  } finally {
    await c.end();
  }
});

test('psql: application_name and options from the conninfo are applied', async () => {
  const conn = conninfo(gw.port, { user: 'app', dbname: 'appdb', cert: app, extra: "application_name=from-psql options='-c search_path=s2,public'" });
  const r = await psql(conn, "SELECT current_setting('application_name') || '|' || current_setting('search_path')");
  assert.equal(r.stderr, '');
  assert.equal(r.stdout, 'from-psql|s2,public'); // PostgreSQL keeps an options value verbatim, as here
});

test('a startup setting PostgreSQL refuses reaches the client as PostgreSQL words it', async () => {
  await assert.rejects(connected({ options: '-c work_mem=lots' }).then((c) => c.query('SELECT 1').finally(() => c.end())), (err: Error & { code?: string }) => {
    assert.equal(err.code, '22023');
    assert.match(err.message, /invalid value for parameter "work_mem": "lots"/);
    return true;
  });
  // The server connection survives for the next client.
  const b = await connected();
  try {
    assert.equal(await one<number>(b, 'SELECT 1'), 1);
  } finally {
    await b.end();
  }
});
