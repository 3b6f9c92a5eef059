/**
 * The admin console against a real PostgreSQL, with psql as the admin client and node-postgres
 * clients holding sessions open: SHOW output while clients are connected, who may log in,
 * PAUSE/RESUME with a client in a transaction, RELOAD, KILL, and SHUTDOWN.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import pg from 'pg';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { makePki, type Pki, type ClientFiles } from '../harness/cert-factory.js';
import { startGateway, writeConfig, type RunningGateway } from '../harness/gateway.js';
import { conninfo, psql } from '../harness/psql.js';
import { clientTlsSection, nodeSsl, plainUpstream, waitFor } from '../gateway/helpers.js';
import { Admin } from '../../src/admin/admin.js';
import { adminConn, psqlTable, quietLog, showRows } from './helpers.js';

let pgs: PgServer;
let pki: Pki;
let app: ClientFiles;
let ops: ClientFiles;
let gw: RunningGateway;
let admin: Admin;
const open: pg.Client[] = [];

function baseConfig(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    tls: clientTlsSection(pki),
    pool_mode: 'transaction',
    databases: { appdb: plainUpstream(pgs, 'appdb', { pool_size: 2 }) },
    admin: { identities: ['ops'] },
    ...extra,
  };
}

before(async () => {
  pki = await makePki();
  app = await pki.client('app');
  ops = await pki.client('ops');
  pgs = await startPostgres({ setupSql: 'CREATE ROLE app LOGIN; CREATE DATABASE appdb OWNER app;' });
  gw = await startGateway(baseConfig());
  admin = Admin.attach(gw.gateway, { log: quietLog(), processMetrics: false });
  await admin.start();
});

after(async () => {
  for (const c of open) await c.end().catch(() => undefined);
  await admin?.close();
  await gw?.stop();
  await pgs?.stop();
  pki?.cleanup();
});

async function appClient(): Promise<pg.Client> {
  const c = new pg.Client({ host: '127.0.0.1', port: gw.port, user: 'app', database: 'appdb', ssl: nodeSsl(app), application_name: 'console-test' });
  c.on('error', () => undefined);
  await c.connect();
  open.push(c);
  return c;
}

function pool(rows: Record<string, string>[]): Record<string, string> {
  const row = rows.find((r) => r.database === 'appdb' && r.user === 'app');
  assert.ok(row, `no appdb/app row in ${JSON.stringify(rows)}`);
  return row;
}

test('SHOW POOLS, CLIENTS, SERVERS and IDENTITIES print tables with the live sessions', async () => {
  const inTx = await appClient();
  const idle = await appClient();
  await inTx.query('BEGIN');
  const backendPid = (await inTx.query('SELECT pg_backend_pid() AS p')).rows[0].p as number;
  await idle.query('SELECT 1');
  try {
    await showsLiveSessions(backendPid);
  } finally {
    await inTx.query('COMMIT');
  }
});

async function showsLiveSessions(backendPid: number): Promise<void> {
  const conn = adminConn(gw.port, ops);

  // psql's own table output: a header line with PgBouncer's column names.
  const table = await psqlTable(conn, 'SHOW POOLS');
  assert.equal(table.code, 0, table.stderr);
  assert.match(table.stdout, /database\s*\|\s*user\s*\|\s*cl_active\s*\|\s*cl_waiting\s*\|\s*sv_active\s*\|\s*sv_idle\s*\|\s*sv_used/);
  assert.match(table.stdout, /appdb\s*\|\s*app\s*\|/);

  const p = pool(await showRows(conn, 'SHOW POOLS'));
  assert.equal(p.cl_active, '2');
  assert.equal(p.cl_waiting, '0');
  assert.equal(p.sv_active, '1');
  assert.equal(p.pool_mode, 'transaction');
  assert.equal(p.maxwait, '0');

  const clients = await showRows(conn, 'SHOW CLIENTS');
  const appClients = clients.filter((c) => c.database === 'appdb');
  assert.equal(appClients.length, 2);
  for (const c of appClients) {
    assert.equal(c.type, 'C');
    assert.equal(c.user, 'app');
    assert.equal(c.state, 'active');
    assert.equal(c.addr, '127.0.0.1');
    assert.equal(c.cn, 'app');
    assert.equal(c.environment, 'production');
    assert.equal(c.serial, app.serial);
    assert.equal(c.application_name, 'console-test');
    assert.match(c.tls ?? '', /^TLSv1\.[23]\//);
  }
  assert.equal(appClients.filter((c) => c.link !== '').length, 1, 'exactly the client in a transaction holds a server');
  const self = clients.find((c) => c.database === 'pgmoat');
  assert.ok(self, 'the admin session lists itself');
  assert.equal(self.cn, 'ops');

  const servers = await showRows(conn, 'SHOW SERVERS');
  const active = servers.filter((s) => s.database === 'appdb' && s.state === 'active');
  assert.equal(active.length, 1);
  assert.equal(active[0]!.remote_pid, String(backendPid));
  assert.equal(active[0]!.addr, '127.0.0.1');
  assert.equal(active[0]!.port, String(pgs.port));
  const linked = appClients.find((c) => c.link !== '');
  assert.equal(active[0]!.link, linked!.id);
  assert.equal(active[0]!.id, linked!.link);

  const ids = await showRows(conn, 'SHOW IDENTITIES');
  const appId = ids.find((r) => r.cn === 'app');
  assert.ok(appId, JSON.stringify(ids));
  const cert = new X509Certificate(app.certPem);
  assert.equal(appId.serial, app.serial);
  assert.equal(appId.fingerprint, cert.fingerprint256);
  assert.equal(appId.environment, 'production');
  assert.equal(appId.sessions, '2');
  assert.equal(appId.databases, 'appdb');
  assert.equal(appId.source, '127.0.0.1');
  assert.equal(appId.not_after, `${new Date(cert.validTo).toISOString().slice(0, 19).replace('T', ' ')} UTC`);
  const opsId = ids.find((r) => r.cn === 'ops');
  assert.equal(opsId?.databases, 'pgmoat');
}

test('SHOW STATS counts transactions, queries and bytes; DATABASES, CONFIG and VERSION read the config', async () => {
  const c = await appClient();
  const conn = adminConn(gw.port, ops);
  const before = pool(await showRows(conn, 'SHOW STATS'));
  for (let i = 0; i < 5; i++) await c.query('SELECT $1::int AS n', [i]);
  await c.query('BEGIN');
  await c.query('SELECT 1');
  await c.query('COMMIT');
  const after = pool(await showRows(conn, 'SHOW STATS'));
  assert.ok(Number(after.total_query_count) - Number(before.total_query_count) >= 8, JSON.stringify({ before, after }));
  assert.ok(Number(after.total_xact_count) - Number(before.total_xact_count) >= 6, JSON.stringify({ before, after }));
  assert.ok(Number(after.total_received) > Number(before.total_received));
  assert.ok(Number(after.total_sent) > Number(before.total_sent));
  assert.ok(Number(after.total_xact_time) >= Number(before.total_xact_time));

  const dbs = await showRows(conn, 'SHOW DATABASES');
  const db = dbs.find((d) => d.name === 'appdb');
  assert.equal(db?.port, String(pgs.port));
  assert.equal(db?.pool_size, '2');
  assert.equal(db?.pool_mode, 'transaction');
  assert.equal(db?.environment, 'production');

  const config = await showRows(conn, 'SHOW CONFIG');
  const get = (k: string): string | undefined => config.find((r) => r.key === k)?.value;
  assert.equal(get('pool_mode'), 'transaction');
  assert.equal(get('tls.mode'), 'verify-full');
  assert.equal(get('admin.identities'), 'ops');
  assert.ok(!config.some((r) => (r.key ?? '').startsWith('databases.')), 'databases are in SHOW DATABASES');

  const version = await showRows(conn, 'SHOW VERSION');
  assert.match(version[0]?.version ?? '', /^pgmoat \d+\.\d+\.\d+/);
});

test('only a verified certificate listed in admin.identities, logging in as its CN, gets the console', async () => {
  const notAdmin = await psql(conninfo(gw.port, { user: 'app', dbname: 'pgmoat', cert: app }), 'SHOW POOLS');
  assert.notEqual(notAdmin.code, 0);
  assert.match(notAdmin.stderr, /may not use the admin console/);
  const viaNode = new pg.Client({ host: '127.0.0.1', port: gw.port, user: 'app', database: 'pgmoat', ssl: nodeSsl(app) });
  await assert.rejects(viaNode.connect(), (err: Error & { code?: string }) => err.code === '28000');

  const wrongUser = await psql(adminConn(gw.port, ops, 'app'), 'SHOW POOLS');
  assert.notEqual(wrongUser.code, 0);
  assert.match(wrongUser.stderr, /requires user "ops"/);

  const foreign = await pki.client('ops', { ca: 'foreign' });
  const untrusted = await psql(adminConn(gw.port, foreign), 'SHOW POOLS');
  assert.notEqual(untrusted.code, 0);
  assert.doesNotMatch(untrusted.stdout, /appdb/);

  const ok = await psql(adminConn(gw.port, ops), 'SHOW VERSION');
  assert.equal(ok.code, 0, ok.stderr);

  // Each refusal is audited with what it was, never as an internal error.
  const refusals = gw.logs().filter((l) => l.event === 'login_refused' && l.database === 'pgmoat');
  const reasons = new Set(refusals.map((l) => l.reason));
  assert.ok(reasons.has('not an admin identity'), `a non-admin certificate: ${[...reasons].join(', ')}`);
  assert.ok(reasons.has('identity not allowed for role'), 'an admin certificate asking for another user');
  assert.ok(!reasons.has('internal error'), `no refusal is an internal error: ${JSON.stringify(refusals)}`);
  assert.ok(refusals.filter((l) => l.reason === 'not an admin identity').every((l) => l.auth_failure === true));
});

test('an unknown command is an ERROR with SQLSTATE 42601 and the session goes on', async () => {
  const r = await psqlTable(adminConn(gw.port, ops), 'SELECT 1');
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /ERROR:\s+42601: unknown command: SELECT 1/);
  // Over one connection: the error ends the statement, not the session.
  const c = new pg.Client({ host: '127.0.0.1', port: gw.port, user: 'ops', database: 'pgmoat', ssl: nodeSsl(ops) });
  await c.connect();
  try {
    await assert.rejects(c.query('SHOW NOTHING'), (err: Error & { code?: string }) => err.code === '42601');
    await assert.rejects(c.query('SELECT $1::int', [1]), (err: Error & { code?: string }) => err.code === '0A000');
    const v = await c.query('SHOW VERSION');
    assert.deepEqual(v.fields.map((f) => f.name), ['version']);
    assert.match(String(v.rows[0].version), /^pgmoat /);
  } finally {
    await c.end();
  }
});

test('PAUSE waits for the transaction in progress, holds new queries until RESUME', async () => {
  const holder = await appClient();
  const later = await appClient();
  await holder.query('BEGIN');
  await holder.query('SELECT 1');
  const conn = adminConn(gw.port, ops);

  let paused = false;
  const pausing = psql(conn, 'PAUSE appdb').then((r) => {
    paused = true;
    return r;
  });
  await waitFor(async () => pool(await showRows(conn, 'SHOW POOLS')).paused === '1', 'the pool to be marked paused');
  // The transaction still holds its server: PAUSE cannot have answered yet.
  assert.equal(pool(await showRows(conn, 'SHOW POOLS')).sv_active, '1');
  assert.equal(paused, false);
  await holder.query('COMMIT');
  const pr = await pausing;
  assert.equal(pr.code, 0, pr.stderr);

  let answered = false;
  const held = later.query('SELECT 42 AS n').then((r) => {
    answered = true;
    return r;
  });
  await waitFor(async () => pool(await showRows(conn, 'SHOW POOLS')).cl_waiting === '1', 'the query to wait');
  assert.equal(answered, false);
  const resumed = await psql(conn, 'RESUME appdb');
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.equal((await held).rows[0].n, 42);
  assert.equal(pool(await showRows(conn, 'SHOW POOLS')).paused, '0');

  const unknown = await psqlTable(conn, 'PAUSE nosuchdb');
  assert.match(unknown.stderr, /3D000: no such database: "nosuchdb"/);
});

test('RELOAD applies a new config, refuses a broken one, and ends a session whose identity was removed', async () => {
  const conn = adminConn(gw.port, ops);
  writeConfig(gw.dir, { ...baseConfig({ databases: { appdb: plainUpstream(pgs, 'appdb', { pool_size: 3 }) } }), listen: { host: '127.0.0.1', port: gw.port } });
  const r = await psql(conn, 'RELOAD');
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await showRows(conn, 'SHOW DATABASES')).find((d) => d.name === 'appdb')?.pool_size, '3');

  writeConfig(gw.dir, { ...baseConfig(), pool_mode: 'sometimes', listen: { host: '127.0.0.1', port: gw.port } });
  const bad = await psqlTable(conn, 'RELOAD');
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /F0000: configuration reload refused; the running configuration stays/);
  assert.match(bad.stderr, /pool_mode/);
  assert.equal((await showRows(conn, 'SHOW DATABASES')).find((d) => d.name === 'appdb')?.pool_size, '3');

  // Removing ops from admin.identities takes effect on the session that reloaded, at its next command.
  writeConfig(gw.dir, { ...baseConfig({ admin: { identities: ['someone-else'] } }), listen: { host: '127.0.0.1', port: gw.port } });
  const lockout = await psqlTable(conn, 'RELOAD; SHOW POOLS');
  assert.notEqual(lockout.code, 0);
  assert.match(lockout.stderr, /FATAL:\s+28000: certificate identity "ops" may not use the admin console/);
  const again = await psql(conn, 'SHOW POOLS');
  assert.notEqual(again.code, 0);

  writeConfig(gw.dir, { ...baseConfig(), listen: { host: '127.0.0.1', port: gw.port } });
  await gw.reload();
  assert.equal((await psql(conn, 'SHOW VERSION')).code, 0);
});

test('RECONNECT retires servers and KILL ends the clients of a database with 57P01', async () => {
  const c = await appClient();
  const firstPid = (await c.query('SELECT pg_backend_pid() AS p')).rows[0].p as number;
  const conn = adminConn(gw.port, ops);
  assert.equal((await psql(conn, 'RECONNECT appdb')).code, 0);
  const secondPid = (await c.query('SELECT pg_backend_pid() AS p')).rows[0].p as number;
  assert.notEqual(secondPid, firstPid, 'the idle server was replaced');

  const ended = new Promise<Error>((resolve) => c.once('error', resolve));
  assert.equal((await psql(conn, 'KILL appdb')).code, 0);
  const err = (await ended) as Error & { code?: string };
  assert.equal(err.code, '57P01');
  assert.equal(pool(await showRows(conn, 'SHOW POOLS')).cl_active, '0');
});

test('SHUTDOWN answers, then stops the gateway', async () => {
  const r = await psql(adminConn(gw.port, ops), 'SHUTDOWN');
  assert.equal(r.code, 0, r.stderr);
  await waitFor(() => !gw.gateway.accepting, 'the gateway to stop accepting');
  const after = await psql(conninfo(gw.port, { user: 'app', dbname: 'appdb', cert: app }), 'SELECT 1');
  assert.notEqual(after.code, 0);
});
