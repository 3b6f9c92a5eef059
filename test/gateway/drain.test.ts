/**
 * Draining for a balancer's rolling restart, on the real `pgmoat serve` process (single and
 * --workers 2): on SIGTERM /readyz answers 503 "draining" at once, the listener keeps accepting
 * for shutdown_drain_delay, connections already accepted (even mid TLS handshake) become
 * sessions, sessions finish, the process exits 0; a second SIGTERM ends the drain at once.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { get } from 'node:http';
import pg from 'pg';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { makePki, type ClientFiles, type Pki } from '../harness/cert-factory.js';
import { cleanupDir, startGatewayProcess, writeConfig } from '../harness/gateway.js';
import { freePort } from '../harness/free-port.js';
import { clientTlsSection, nodeSsl, plainUpstream, waitFor } from './helpers.js';
import { RawConn, SSL_REQUEST, errorFields, login, queryMessage } from './raw-wire.js';
import { startCluster } from '../cluster/helpers.js';

let upstream: PgServer;
let pki: Pki;
let app: ClientFiles;
let dir: string;

before(async () => {
  pki = await makePki();
  upstream = await startPostgres({ setupSql: 'CREATE ROLE app LOGIN; CREATE DATABASE appdb OWNER app; ' });
  upstream.sql('CREATE TABLE IF NOT EXISTS t (n int); GRANT ALL ON t TO app;', 'appdb');
  app = await pki.client('app');
  dir = mkdtempSync(join(tmpdir(), 'pgmoat-drain-'));
  chmodSync(dir, 0o700);
});
after(async () => {
  await upstream?.stop();
  pki?.cleanup();
  if (dir) cleanupDir(dir);
});

async function configFile(extra: Record<string, unknown>): Promise<{ path: string; port: number; httpPort: number }> {
  const port = await freePort();
  const httpPort = await freePort();
  const sub = mkdtempSync(join(dir, 'gw-'));
  const path = writeConfig(sub, {
    listen: { host: '127.0.0.1', port },
    admin: { http: { host: '127.0.0.1', port: httpPort } },
    tls: clientTlsSection(pki),
    databases: { appdb: plainUpstream(upstream, 'appdb', { pool_size: 4 }) },
    ...extra,
  });
  return { path, port, httpPort };
}

function readyz(port: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path: '/readyz' }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

function refusesConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', () => resolve(true));
  });
}

function exited(proc: { exitCode: number | null; once(e: 'exit', f: (code: number | null, signal: string | null) => void): unknown }): Promise<string> {
  return new Promise((resolve) => {
    if (proc.exitCode !== null) return resolve(`code ${proc.exitCode}`);
    proc.once('exit', (code, signal) => resolve(signal ? `signal ${signal}` : `code ${code}`));
  });
}

async function session(port: number): Promise<{ client: pg.Client; errors: (Error & { code?: string })[] }> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'app', database: 'appdb', ssl: nodeSsl(app) });
  const errors: (Error & { code?: string })[] = [];
  client.on('error', (e) => errors.push(e));
  await client.connect();
  return { client, errors };
}

const isDraining = async (httpPort: number): Promise<boolean> => {
  const r = await readyz(httpPort);
  return r.status === 503 && r.body.includes('draining');
};

test('SIGTERM: /readyz says draining at once, new clients are taken during shutdown_drain_delay, the open transaction commits, then the port closes and the process exits 0', async () => {
  const { path, port, httpPort } = await configFile({ shutdown_timeout: '90s', shutdown_drain_delay: '10s' });
  const gw = await startGatewayProcess(path);
  try {
    // The client listener's "listening" line comes before the admin listener is up.
    await waitFor(async () => (await readyz(httpPort).catch(() => ({ status: 0 }))).status === 200, '/readyz to answer ready');
    const { client, errors } = await session(port);
    await client.query('BEGIN');
    await client.query('INSERT INTO t VALUES (1)');
    const exit = exited(gw.proc);
    gw.proc.kill('SIGTERM');
    await waitFor(() => isDraining(httpPort), '/readyz to say draining');
    // Within the delay the listener still takes a client (a balancer has not noticed yet).
    const late = await session(port);
    assert.equal((await late.client.query<{ n: number }>('SELECT 5 AS n')).rows[0]!.n, 5);
    await late.client.end();
    // The transaction begun before the signal goes on and commits.
    await client.query('INSERT INTO t VALUES (2)');
    await client.query('COMMIT');
    await waitFor(() => refusesConnections(port), 'the listener to close after the delay', 30_000);
    assert.equal(gw.proc.exitCode, null, 'the open session keeps the process');
    assert.ok(await isDraining(httpPort), 'the admin listener stays up while sessions finish');
    assert.equal((await client.query<{ n: string }>('SELECT count(*) AS n FROM t WHERE n IN (1, 2)')).rows[0]!.n, '2');
    await client.end();
    assert.equal(await exit, 'code 0', gw.output());
    assert.deepEqual(errors, []);
    assert.match(gw.output(), /"event":"drain_started".*"sessions":1/);
    assert.match(gw.output(), /"event":"drain_finished"/);
  } finally {
    await gw.stop('SIGKILL');
  }
});

test('a connection in the middle of its TLS handshake at SIGTERM completes its login and its query', async () => {
  const { path, port, httpPort } = await configFile({ shutdown_timeout: '60s' });
  const gw = await startGatewayProcess(path);
  try {
    const raw = connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => raw.once('connect', resolve).once('error', reject));
    raw.write(SSL_REQUEST);
    const answer = await new Promise<Buffer>((resolve) => raw.once('data', resolve));
    assert.equal(answer.toString('latin1'), 'S');
    // The gateway now waits for this connection's ClientHello.
    const exit = exited(gw.proc);
    gw.proc.kill('SIGTERM');
    await waitFor(() => isDraining(httpPort), '/readyz to say draining');
    await waitFor(() => refusesConnections(port), 'the listener to close');
    const tls = tlsConnect({ socket: raw, host: '127.0.0.1', servername: 'localhost', ...nodeSsl(app) });
    const conn = new RawConn(tls);
    await new Promise<void>((resolve, reject) => tls.once('secureConnect', resolve).once('error', reject));
    const m = await login(conn, { user: 'app', database: 'appdb' });
    assert.ok(m.some((x) => x.type === 'Z'), `login: ${m.map((x) => (x.type === 'E' ? JSON.stringify(errorFields(x.body)) : x.type)).join('')}`);
    conn.write(queryMessage('SELECT 42'));
    const rows = await conn.until((ms) => ms.filter((x) => x.type === 'Z').length >= 2);
    const data = rows.find((x) => x.type === 'D');
    assert.ok(data, `the query's row: ${rows.map((x) => x.type).join('')}`);
    assert.match(data.body.toString('latin1'), /42/);
    conn.destroy();
    assert.equal(await exit, 'code 0', gw.output());
  } finally {
    await gw.stop('SIGKILL');
  }
});

test('a second SIGTERM ends the drain at once: the session hears 57P01, the process exits 0', async () => {
  const { path, port, httpPort } = await configFile({ shutdown_timeout: '120s' });
  const gw = await startGatewayProcess(path);
  try {
    const { client, errors } = await session(port);
    await client.query('SELECT 1');
    const exit = exited(gw.proc);
    gw.proc.kill('SIGTERM');
    await waitFor(() => isDraining(httpPort), '/readyz to say draining');
    gw.proc.kill('SIGTERM');
    assert.equal(await exit, 'code 0', gw.output());
    await waitFor(() => errors.length > 0, 'the session to hear about the shutdown');
    assert.equal(errors[0]!.code, '57P01', errors[0]!.message);
    assert.match(gw.output(), /"event":"drain_forced"/);
    await client.end().catch(() => undefined);
  } finally {
    await gw.stop('SIGKILL');
  }
});

test('--workers 2: the primary\'s /readyz says draining, sessions on both workers finish, exit 0', async () => {
  const { path, port, httpPort } = await configFile({ shutdown_timeout: '90s', shutdown_drain_delay: '1s' });
  const gw = await startCluster(path, 2);
  try {
    await waitFor(async () => (await readyz(httpPort)).status === 200, 'the cluster to be ready');
    const sessions = [await session(port), await session(port), await session(port)];
    for (const s of sessions) await s.client.query('BEGIN');
    const exit = exited(gw.proc);
    gw.proc.kill('SIGTERM');
    await waitFor(() => isDraining(httpPort), '/readyz to say draining');
    await waitFor(() => refusesConnections(port), 'the listener to close after the delay', 30_000);
    assert.equal(gw.proc.exitCode, null);
    for (const s of sessions) {
      await s.client.query('SELECT 1');
      await s.client.query('COMMIT');
      await s.client.end();
      assert.deepEqual(s.errors, []);
    }
    assert.equal(await exit, 'code 0', gw.output());
    assert.equal(gw.events('drain_finished').length, 2, gw.output());
  } finally {
    await gw.stop('SIGKILL');
  }
});
