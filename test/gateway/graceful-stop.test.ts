/**
 * Graceful stop of the real `pgmoat serve` process: on SIGTERM/SIGINT it stops accepting, lets
 * open sessions finish, and exits once they have, or at shutdown_timeout, telling the sessions
 * still open why (57P01) rather than dropping them.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:net';
import pg from 'pg';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { makePki, type ClientFiles, type Pki } from '../harness/cert-factory.js';
import { cleanupDir, startGatewayProcess, writeConfig } from '../harness/gateway.js';
import { freePort } from '../harness/free-port.js';
import { clientTlsSection, nodeSsl, plainUpstream, waitFor } from './helpers.js';

let upstream: PgServer;
let pki: Pki;
let app: ClientFiles;
let dir: string;

before(async () => {
  pki = await makePki();
  upstream = await startPostgres({ setupSql: 'CREATE ROLE app LOGIN; CREATE DATABASE appdb OWNER app;' });
  app = await pki.client('app');
  dir = mkdtempSync(join(tmpdir(), 'pgmoat-stop-'));
  chmodSync(dir, 0o700);
});
after(async () => {
  await upstream?.stop();
  pki?.cleanup();
  if (dir) cleanupDir(dir);
});

type Gw = Awaited<ReturnType<typeof startGatewayProcess>>;

async function serve(shutdownTimeout: string): Promise<{ gw: Gw; port: number }> {
  const port = await freePort();
  const sub = mkdtempSync(join(dir, 'gw-'));
  const path = writeConfig(sub, {
    listen: { host: '127.0.0.1', port },
    shutdown_timeout: shutdownTimeout,
    tls: clientTlsSection(pki),
    databases: { appdb: plainUpstream(upstream, 'appdb', { pool_size: 2 }) },
  });
  return { gw: await startGatewayProcess(path), port };
}

async function session(port: number): Promise<{ client: pg.Client; errors: (Error & { code?: string })[] }> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'app', database: 'appdb', ssl: nodeSsl(app) });
  const errors: (Error & { code?: string })[] = [];
  client.on('error', (e) => errors.push(e));
  await client.connect();
  await client.query('SELECT 1');
  return { client, errors };
}

function exited(gw: Gw): Promise<number | null> {
  return new Promise((resolve) => {
    if (gw.proc.exitCode !== null) return resolve(gw.proc.exitCode);
    gw.proc.once('exit', (code) => resolve(code));
  });
}

/** True when a TCP connect to the port is refused (nobody listening any more). */
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

test('SIGTERM with a session open: stops accepting, the session keeps working, the process exits once it ends', async () => {
  const { gw, port } = await serve('60s');
  try {
    const { client, errors } = await session(port);
    const exit = exited(gw);
    gw.proc.kill('SIGTERM');
    await waitFor(() => refusesConnections(port), 'the listener to close');
    assert.equal(gw.proc.exitCode, null, 'the process must wait for the open session');
    // The open session still runs queries during the drain.
    assert.equal((await client.query<{ n: number }>('SELECT 41 + 1 AS n')).rows[0]!.n, 42);
    assert.equal(gw.proc.exitCode, null);
    await client.end();
    assert.equal(await exit, 0, gw.output());
    assert.deepEqual(errors, []);
    assert.match(gw.output(), /"event":"shutdown"/);
  } finally {
    await gw.stop('SIGKILL');
  }
});

test('SIGTERM with a session that does not end: closed at shutdown_timeout with FATAL 57P01, then exit', async () => {
  const { gw, port } = await serve('1s');
  try {
    const idle = await session(port);
    const busy = await session(port);
    const running = busy.client.query('SELECT pg_sleep(30)').then(
      () => undefined,
      (e: Error & { code?: string }) => e,
    );
    const exit = exited(gw);
    gw.proc.kill('SIGTERM');
    assert.equal(await exit, 0, gw.output());
    const err = await running;
    assert.ok(err, 'the running query must fail');
    assert.equal(err.code, '57P01', err.message);
    assert.match(err.message, /terminating connection due to administrator command/);
    await waitFor(() => idle.errors.length > 0, 'the idle session to hear about the shutdown');
    assert.equal(idle.errors[0]!.code, '57P01', idle.errors[0]!.message);
    await idle.client.end().catch(() => undefined);
    await busy.client.end().catch(() => undefined);
    // The upstream backends pgmoat held are gone too (terminated, not left behind).
    await waitFor(
      () => upstream.sql("SELECT count(*) FROM pg_stat_activity WHERE datname = 'appdb' AND backend_type = 'client backend' AND query NOT LIKE '%pg_sleep%'") === '0',
      'the upstream sessions to end',
    );
  } finally {
    await gw.stop('SIGKILL');
  }
});

test('SIGINT with no session: exits at once with code 0', async () => {
  const { gw, port } = await serve('30s');
  try {
    const { client } = await session(port);
    await client.end();
    const exit = exited(gw);
    gw.proc.kill('SIGINT');
    assert.equal(await exit, 0, gw.output());
  } finally {
    await gw.stop('SIGKILL');
  }
});
