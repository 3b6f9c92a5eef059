/**
 * pgmoat behind a real HAProxy (Debian's, `mode tcp`, `send-proxy-v2`) with
 * listen.proxy_protocol trusting HAProxy's address (127.0.0.1): psql, pgbench and node-postgres
 * through it; clients bound to 127.0.0.2 and 127.0.0.3 appear with those addresses in the audit
 * lines and SHOW CLIENTS, and an address rule lets 127.0.0.2 in and refuses 127.0.0.3.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { Socket, type NetConnectOpts } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { execFile } from 'node:child_process';
import pg from 'pg';
import { Admin } from '../../src/admin/admin.js';
import { haveHaproxy, startHaproxy, type RunningHaproxy } from '../harness/haproxy.js';
import { conninfo, psql } from '../harness/psql.js';
import { pgTool } from '../harness/pg-binaries.js';
import type { ClientFiles, Pki } from '../harness/cert-factory.js';
import type { PgServer } from '../harness/postgres.js';
import type { RunningGateway } from '../harness/gateway.js';
import { adminConn, quietLog, showRows } from '../admin/helpers.js';
import { logEvents, nodeSsl, useAppGateway, waitFor } from './helpers.js';
import { RawConn, login } from './raw-wire.js';

const skip = haveHaproxy() ? false : 'haproxy is not installed (/usr/sbin/haproxy; apt-get install haproxy)';

let pki: Pki;
let upstream: PgServer;
let app: ClientFiles;
let ops: ClientFiles;
let gw: RunningGateway;
let admin: Admin;
let hap: RunningHaproxy;

useAppGateway(
  {
    gateway: {
      listen: { proxy_protocol: { trusted: ['127.0.0.1'] } },
      pool_mode: 'transaction',
      admin: { identities: ['ops'] },
      rules: [
        { address: '127.0.0.3', method: 'reject' },
        { method: 'cert' },
      ],
    },
    database: { pool_size: 4 },
  },
  async (parts) => {
    ({ pki, upstream, app, gw } = parts);
    ops = await pki.client('ops');
    admin = Admin.attach(gw.gateway, { log: quietLog(), processMetrics: false });
    await admin.start();
    if (!skip) hap = await startHaproxy({ backends: [{ name: 'gw1', port: gw.port }], sendProxyV2: true });
  },
);

after(async () => {
  await hap?.stop();
  await admin?.close();
});

/**
 * A node-postgres client whose TCP connection leaves from `localAddress`: pg calls
 * `stream.connect(port, host)`, which has no place for it, so the socket adds it.
 */
function boundClient(localAddress: string, user = 'app', cert: ClientFiles = app): pg.Client {
  class BoundSocket extends Socket {
    override connect(...args: unknown[]): this {
      const [port, host] = args as [number, string];
      const opts: NetConnectOpts = { port, host, localAddress };
      return super.connect(opts);
    }
  }
  return new pg.Client({
    host: '127.0.0.1',
    port: hap.port,
    user,
    database: 'appdb',
    ssl: { ...nodeSsl(cert) },
    stream: () => new BoundSocket(),
    connectionTimeoutMillis: 10_000,
  });
}

function sessionsFrom(address: string): Record<string, unknown>[] {
  return logEvents(gw, 'login').filter((l) => l.remote === address);
}

test('psql through HAProxy (send-proxy-v2): the session is logged with the header\'s address, via HAProxy', { skip }, async () => {
  const r = await psql(conninfo(hap.port, { user: 'app', dbname: 'appdb', cert: app }), 'SELECT 1');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, '1');
  // psql cannot choose its source address: it leaves from 127.0.0.1, and HAProxy says so.
  const line = logEvents(gw, 'login').at(-1)!;
  assert.equal(line.remote, '127.0.0.1');
  assert.equal(line.via, '127.0.0.1');
});

test('node-postgres from 127.0.0.2 through HAProxy: audit line and SHOW CLIENTS show 127.0.0.2', { skip }, async () => {
  const client = boundClient('127.0.0.2');
  client.on('error', () => undefined);
  await client.connect();
  try {
    const r = await client.query<{ n: number }>('SELECT 41 + 1 AS n');
    assert.equal(r.rows[0]!.n, 42);
    const line = sessionsFrom('127.0.0.2').at(-1);
    assert.ok(line, 'a login line from 127.0.0.2');
    assert.equal(line.via, '127.0.0.1');
    assert.equal(line.cn, 'app');
    const rows = await showRows(adminConn(hap.port, ops), 'SHOW CLIENTS');
    const mine = rows.filter((row) => row.database === 'appdb');
    assert.equal(mine.length, 1, JSON.stringify(rows));
    assert.equal(mine[0]!.addr, '127.0.0.2');
    const local = (client as unknown as { connection: { stream: { localPort: number } } }).connection.stream.localPort;
    assert.equal(Number(mine[0]!.port), local, 'the client\'s own port, from the header');
  } finally {
    await client.end();
  }
  await waitFor(() => logEvents(gw, 'session_end').some((l) => l.remote === '127.0.0.2'), 'session_end from 127.0.0.2');
});

test('the address rule refuses 127.0.0.3 through HAProxy, and still lets 127.0.0.2 in', { skip }, async () => {
  const refused = boundClient('127.0.0.3');
  refused.on('error', () => undefined);
  await assert.rejects(refused.connect(), (err: { code?: string; message: string }) => {
    assert.equal(err.code, '28000');
    return true;
  });
  await refused.end().catch(() => undefined);
  const line = logEvents(gw, 'login_refused').at(-1)!;
  assert.equal(line.remote, '127.0.0.3');
  assert.equal(line.via, '127.0.0.1');
  assert.equal(line.reason, 'rule rejects');

  const ok = boundClient('127.0.0.2');
  await ok.connect();
  assert.equal((await ok.query<{ u: string }>('SELECT current_user AS u')).rows[0]!.u, 'app');
  await ok.end();
});

test('a raw node:tls client bound to 127.0.0.2, SSLRequest through HAProxy', { skip }, async () => {
  const raw = new Socket();
  await new Promise<void>((resolve, reject) => {
    raw.connect({ port: hap.port, host: '127.0.0.1', localAddress: '127.0.0.2' }, resolve);
    raw.once('error', reject);
  });
  raw.write(Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]));
  const answer = await new Promise<Buffer>((resolve, reject) => {
    raw.once('data', resolve);
    raw.once('close', () => reject(new Error('closed')));
  });
  assert.equal(answer.toString('hex'), '53');
  const s = tlsConnect({ socket: raw, servername: 'localhost', ...nodeSsl(app) });
  const conn = new RawConn(s);
  await new Promise<void>((resolve, reject) => {
    s.once('secureConnect', resolve);
    s.once('error', reject);
  });
  const m = await login(conn, { user: 'app', database: 'appdb' });
  assert.ok(m.some((x) => x.type === 'Z'));
  assert.equal(logEvents(gw, 'login').at(-1)!.remote, '127.0.0.2');
  conn.destroy();
});

test('pgbench (transaction pooling) through HAProxy: no errors', { skip }, async () => {
  const init = await run(pgTool('pgbench'), ['-i', '-s', '1', '-q', '-h', '127.0.0.1', '-p', String(upstream.port), '-U', 'app', 'appdb'], {});
  assert.equal(init.code, 0, init.stderr);
  const env = { PGSSLMODE: 'verify-full', PGSSLCERT: app.certPath, PGSSLKEY: app.keyPath, PGSSLROOTCERT: app.caPath, PGCONNECT_TIMEOUT: '10' };
  const r = await run(pgTool('pgbench'), ['-c', '4', '-t', '50', '-h', '127.0.0.1', '-p', String(hap.port), '-U', 'app', 'appdb'], env);
  assert.equal(r.code, 0, `pgbench failed:\n${r.stderr}\n${r.stdout}`);
  assert.match(r.stdout, /number of transactions actually processed: 200\/200/);
  const c = await run(pgTool('pgbench'), ['-C', '-c', '2', '-t', '20', '-h', '127.0.0.1', '-p', String(hap.port), '-U', 'app', 'appdb'], env);
  assert.equal(c.code, 0, `pgbench -C failed:\n${c.stderr}\n${c.stdout}`);
  assert.match(c.stdout, /number of transactions actually processed: 40\/40/);
  assert.equal(logEvents(gw, 'proxy_refused').length, 0, 'no PROXY header refused');
});

test('HAProxy\'s TCP health checks (a PROXY v2 LOCAL header, then close) are accepted and not logged at warn', { skip }, async () => {
  const warnsBefore = gw.logs().filter((l) => (l.level as number) >= 40).length;
  const checker = await startHaproxy({ backends: [{ name: 'gw1', port: gw.port }], sendProxyV2: true, tcpCheck: true, checkIntervalMs: 100 });
  try {
    await waitFor(async () => (await checker.backends())[0]?.status === 'UP', 'HAProxy to see the gateway UP');
    // Some more checks go by (every 100 ms); how many does not matter, only that none is refused.
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal((await checker.backends())[0]?.status, 'UP');
  } finally {
    await checker.stop();
  }
  assert.deepEqual(logEvents(gw, 'proxy_refused'), []);
  assert.equal(gw.logs().filter((l) => (l.level as number) >= 40).length, warnsBefore, 'no warn line for a health check');
});

function run(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { encoding: 'utf8', timeout: 180_000, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}
