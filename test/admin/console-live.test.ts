/**
 * The admin console's run-time commands against a real PostgreSQL, with psql as the admin client:
 * SET (and RELOAD putting the file's value back), refusals of a bad SET that leave the session
 * working, DISABLE/ENABLE, SUSPEND/RESUME, WAIT_CLOSE after RECONNECT, SHOW USERS/LISTS/DNS_HOSTS,
 * and the audit line of each command naming the admin identity.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import pg from 'pg';
import { pino } from 'pino';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { makePki, type Pki, type ClientFiles } from '../harness/cert-factory.js';
import { startGateway, type RunningGateway } from '../harness/gateway.js';
import { clientTlsSection, nodeSsl, plainUpstream, waitFor } from '../gateway/helpers.js';
import { Admin } from '../../src/admin/admin.js';
import { adminConn, psqlTable, showRows } from './helpers.js';

let pgs: PgServer;
let pki: Pki;
let app: ClientFiles;
let ops: ClientFiles;
let gw: RunningGateway;
let admin: Admin;
const lines: Record<string, unknown>[] = [];
const open: pg.Client[] = [];

before(async () => {
  pki = await makePki();
  app = await pki.client('app');
  ops = await pki.client('ops');
  pgs = await startPostgres({ setupSql: 'CREATE ROLE app LOGIN; CREATE DATABASE appdb OWNER app;' });
  gw = await startGateway({
    tls: clientTlsSection(pki),
    pool_mode: 'transaction',
    databases: {
      appdb: plainUpstream(pgs, 'appdb', { pool_size: 2 }),
      // The same database through a host name, for SHOW DNS_HOSTS.
      named: plainUpstream(pgs, 'appdb', { host: 'localhost' }),
    },
    users: { app: { max_user_connections: 9 } },
    admin: { identities: ['ops'] },
  });
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.startsWith('{')) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  admin = Admin.attach(gw.gateway, { log: pino({ level: 'info' }, sink), processMetrics: false });
  await admin.start();
});

after(async () => {
  for (const c of open) await c.end().catch(() => undefined);
  await admin?.close();
  await gw?.stop();
  await pgs?.stop();
  pki?.cleanup();
});

function client(database = 'appdb'): pg.Client {
  const c = new pg.Client({ host: '127.0.0.1', port: gw.port, user: 'app', database, ssl: nodeSsl(app) });
  c.on('error', () => undefined);
  open.push(c);
  return c;
}

async function connected(database = 'appdb'): Promise<pg.Client> {
  const c = client(database);
  await c.connect();
  return c;
}

const conn = (): string => adminConn(gw.port, ops);

async function config(): Promise<Map<string, Record<string, string>>> {
  return new Map((await showRows(conn(), 'SHOW CONFIG')).map((r) => [r.key!, r]));
}

/** The SQLSTATE of a login refusal or query error of node-postgres. */
async function sqlstateOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (err) {
    return (err as { code?: string }).code;
  }
  assert.fail('expected an error');
}

function audited(command: string): Record<string, unknown>[] {
  return lines.filter((l) => l.event === 'admin_command' && l.command === command);
}

test('SHOW CONFIG prints durations with their unit, the default, and which settings SET can change', async () => {
  const c = await config();
  assert.deepEqual({ ...c.get('query_wait_timeout') }, { key: 'query_wait_timeout', value: '2m', default: '2m', changeable: 'yes' });
  assert.equal(c.get('server_login_retry')?.value, '2s');
  assert.equal(c.get('query_timeout')?.value, '0s');
  assert.equal(c.get('listen.port')?.changeable, 'no');
  assert.equal(c.get('tls.mode')?.changeable, 'no');
  assert.equal(c.get('log.level')?.changeable, 'no');
});

test('SET changes a setting at once, is audited with the admin identity, and RELOAD puts the file value back', async () => {
  const r = await psqlTable(conn(), "SET query_wait_timeout = '45s'");
  assert.equal(r.code, 0, r.stderr);
  assert.equal((await config()).get('query_wait_timeout')?.value, '45s');
  for (const p of gw.gateway.pools.values()) assert.equal(p.settings.queryWaitTimeout, 45_000);
  const line = audited('SET').at(-1);
  assert.equal(line?.key, 'query_wait_timeout');
  assert.equal(line?.value, '45s');
  assert.equal(line?.cn, 'ops');

  // max_client_conn applies to the next login.
  const first = await connected();
  assert.equal((await psqlTable(conn(), 'SET max_client_conn = 1')).code, 0);
  assert.equal(await sqlstateOf(connected()), '53300');
  await first.query('SELECT 1');

  const reload = await psqlTable(conn(), 'RELOAD');
  assert.equal(reload.code, 0, reload.stderr);
  const after = await config();
  assert.equal(after.get('query_wait_timeout')?.value, '2m');
  assert.equal(after.get('max_client_conn')?.value, '1000');
  await (await connected()).query('SELECT 1');
});

test('a bad SET gets an ERROR with its SQLSTATE and the same session goes on', async () => {
  const r = await psqlTable(conn(), 'SHOW VERSION', [
    '-v', 'ON_ERROR_STOP=0',
    '-c', 'SET no_such_setting = 1',
    '-c', 'SET listen.port = 7000',
    '-c', 'SET default_pool_size = 0',
    '-c', "SET query_timeout = 'soon'",
    '-c', 'SET min_pool_size = 3',
  ]);
  assert.match(r.stderr, /ERROR:\s+42704: unknown setting: no_such_setting/);
  assert.match(r.stderr, /ERROR:\s+55P02: listen\.port cannot be changed with SET/);
  assert.match(r.stderr, /ERROR:\s+22023: invalid value for default_pool_size: expected an integer of at least 1, got 0/);
  assert.match(r.stderr, /ERROR:\s+22023: invalid value for query_timeout: expected a duration/);
  assert.match(r.stderr, /ERROR:\s+22023: invalid value for min_pool_size: .*pool size of database appdb \(2\)/);
  assert.match(r.stdout, /pgmoat \d+\.\d+\.\d+/, 'the session answered the command after the errors');
  const c = await config();
  assert.equal(c.get('default_pool_size')?.value, '20');
  assert.equal(c.get('min_pool_size')?.value, '0');
});

test('DISABLE refuses new logins to the database (55000) and leaves sessions alone; ENABLE reopens it', async () => {
  const inside = await connected();
  const r = await psqlTable(conn(), 'DISABLE appdb');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(audited('DISABLE').at(-1)?.cn, 'ops');
  try {
    assert.equal(await sqlstateOf(connected()), '55000');
    await (await connected('named')).query('SELECT 1'); // another database is not affected
    await inside.query('SELECT 1');
    const db = (await showRows(conn(), 'SHOW DATABASES')).find((d) => d.name === 'appdb');
    assert.equal(db?.disabled, '1');
    assert.equal((await showRows(conn(), 'SHOW LISTS')).find((l) => l.list === 'disabled_databases')?.items, '1');
  } finally {
    assert.equal((await psqlTable(conn(), 'ENABLE appdb')).code, 0);
  }
  await (await connected()).query('SELECT 1');
  const unknown = await psqlTable(conn(), 'DISABLE nosuchdb');
  assert.match(unknown.stderr, /ERROR:\s+3D000: no such database: "nosuchdb"/);
});

test('SUSPEND holds new logins until RESUME; the console still takes logins', async () => {
  assert.equal((await psqlTable(conn(), 'SUSPEND')).code, 0);
  let resumed = false;
  const held = client();
  const login = held.connect();
  try {
    await waitFor(async () => (await showRows(conn(), 'SHOW LISTS')).find((l) => l.list === 'held_logins')?.items === '1', 'the login to be held');
  } finally {
    resumed = (await psqlTable(conn(), 'RESUME')).code === 0;
  }
  assert.ok(resumed);
  await login;
  await held.query('SELECT 1');
  assert.equal(audited('SUSPEND').at(-1)?.cn, 'ops');
});

test('WAIT_CLOSE answers once the servers RECONNECT marked are closed, and gives up at shutdown_timeout', async () => {
  const inTx = await connected();
  await inTx.query('BEGIN');
  await inTx.query('SELECT 1');
  assert.equal((await psqlTable(conn(), 'RECONNECT appdb')).code, 0);
  // A held server: WAIT_CLOSE gives up at shutdown_timeout with 57014 (set short here).
  assert.equal((await psqlTable(conn(), "SET shutdown_timeout = '300ms'")).code, 0);
  const timedOut = await psqlTable(conn(), 'WAIT_CLOSE appdb');
  assert.match(timedOut.stderr, /ERROR:\s+57014: 1 server connection\(s\) due to close are still open/);
  assert.equal((await psqlTable(conn(), "SET shutdown_timeout = '30s'")).code, 0);
  // While one session waits, another's commands are answered.
  const waiting = psqlTable(conn(), 'WAIT_CLOSE');
  assert.equal((await psqlTable(conn(), 'SHOW VERSION')).code, 0);
  await inTx.query('COMMIT');
  const done = await waiting;
  assert.equal(done.code, 0, done.stderr);
  assert.equal(audited('WAIT_CLOSE').at(-1)?.cn, 'ops');
});

test('SHOW USERS, SHOW LISTS and SHOW DNS_HOSTS', async () => {
  const viaName = await connected('named');
  await viaName.query('SELECT 1');
  const users = await showRows(conn(), 'SHOW USERS');
  const appRow = users.find((u) => u.name === 'app');
  assert.ok(appRow, JSON.stringify(users));
  assert.equal(appRow.max_user_connections, '9');
  assert.ok(Number(appRow.current_client_connections) >= 1);
  const lists = new Map((await showRows(conn(), 'SHOW LISTS')).map((l) => [l.list, l.items]));
  assert.equal(lists.get('databases'), '2');
  assert.equal(lists.get('dns_names'), '1');
  assert.ok(Number(lists.get('used_clients')) >= 2, 'a client and this admin session');
  const dns = await showRows(conn(), 'SHOW DNS_HOSTS');
  assert.equal(dns.length, 1, JSON.stringify(dns));
  assert.equal(dns[0]?.hostname, 'localhost');
  assert.equal(dns[0]?.databases, 'named');
  assert.match(dns[0]?.addrs ?? '', /^(127\.0\.0\.1|::1)/);
});
