/**
 * Backends that die. A backend killed with SIGKILL makes PostgreSQL end every session and run
 * crash recovery ("the database system is in recovery mode", 57P03, for a moment): the session
 * whose transaction was on the killed backend fails, the clients between transactions go on,
 * and no client fails on a login attempted during the recovery. A backend ended by
 * pg_terminate_backend while idle in the pool is replaced without anybody noticing.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { makePki, type ClientFiles, type Pki } from '../harness/cert-factory.js';
import { startGateway, type RunningGateway } from '../harness/gateway.js';
import { pgTool } from '../harness/pg-binaries.js';
import { APP_SETUP_SQL, clientTlsSection, nodeSsl, plainUpstream, waitFor } from '../gateway/helpers.js';
import { faultRounds } from './size.js';

let upstream: PgServer;
let pki: Pki;
let app: ClientFiles;

before(async () => {
  pki = await makePki();
  app = await pki.client('app');
  upstream = await startPostgres({ setupSql: APP_SETUP_SQL });
  execFileSync(pgTool('pgbench'), ['-i', '-s', '1', '-q', '-h', '127.0.0.1', '-p', String(upstream.port), '-U', 'app', 'appdb'], { stdio: 'ignore' });
});
after(async () => {
  await upstream?.stop();
  pki?.cleanup();
});

function client(gw: RunningGateway): pg.Client {
  const c = new pg.Client({ host: '127.0.0.1', port: gw.port, user: 'app', database: 'appdb', ssl: nodeSsl(app), query_timeout: 30_000 });
  c.on('error', () => undefined);
  return c;
}

async function backendPid(c: pg.Client): Promise<number> {
  return (await c.query<{ p: number }>('SELECT pg_backend_pid() AS p')).rows[0]!.p;
}

async function withGateway(db: Record<string, unknown>, fn: (gw: RunningGateway) => Promise<void>): Promise<void> {
  const gw = await startGateway({
    tls: clientTlsSection(pki),
    pool_mode: 'transaction',
    server_login_retry: '500ms',
    query_wait_timeout: '60s',
    databases: { appdb: plainUpstream(upstream, 'appdb', db) },
  });
  try {
    await fn(gw);
  } finally {
    await gw.stop();
  }
}

test('a backend killed in the middle of a transaction: that session fails, the others go on through the crash recovery', async () => {
  await withGateway({ pool_size: 3 }, async (gw) => {
    const inTx = client(gw);
    const others = [client(gw), client(gw)];
    for (const c of [inTx, ...others]) await c.connect();
    for (const c of others) await c.query('SELECT 1');
    await inTx.query('BEGIN');
    const victim = await backendPid(inTx);
    process.kill(victim, 'SIGKILL');
    await assert.rejects(inTx.query('SELECT 1'), 'the transaction on the killed backend fails');
    // PostgreSQL now ends every backend and recovers; the clients between transactions must not notice.
    for (const c of others) {
      const r = await c.query<{ one: number }>('SELECT 1 AS one');
      assert.equal(r.rows[0]!.one, 1);
    }
    for (const c of [inTx, ...others]) await c.end().catch(() => undefined);
  });
});

test('a backend ended while idle in the pool is replaced without the next client noticing', async () => {
  await withGateway({ pool_size: 1 }, async (gw) => {
    const c = client(gw);
    await c.connect();
    const first = await backendPid(c);
    upstream.sql(`SELECT pg_terminate_backend(${first})`);
    await waitFor(() => gw.gateway.pools.get('appdb/app')!.serverCount === 0, 'the pool to notice the ended server');
    const second = await backendPid(c);
    assert.notEqual(second, first);
    await c.end();
  });
});

test('pgbench with a backend killed (SIGKILL) under it: only transactions in flight fail', async () => {
  const rounds = faultRounds();
  await withGateway({ pool_size: 3 }, async (gw) => {
    const clients = String(3 * rounds + 5);
    const child = spawn(pgTool('pgbench'), ['-n', '-S', '-c', clients, '-T', String(6 + 4 * rounds), '-h', '127.0.0.1', '-p', String(gw.port), '-U', 'app', 'appdb'], {
      env: { ...process.env, PGSSLMODE: 'verify-full', PGSSLCERT: app.certPath, PGSSLKEY: app.keyPath, PGSSLROOTCERT: app.caPath },
    });
    let stderr = '';
    let stdout = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    const done = new Promise<void>((resolve) => child.on('close', () => resolve()));
    const killer = setTimeout(() => child.kill('SIGKILL'), 120_000 + 10_000 * rounds);
    for (let i = 0; i < rounds; i++) {
      await sleep(i === 0 ? 2_500 : 3_000);
      const pids = upstream.sql("SELECT pid FROM pg_stat_activity WHERE datname = 'appdb' AND usename = 'app'").split('\n').filter(Boolean);
      assert.ok(pids.length > 0, 'pgmoat has server connections');
      process.kill(Number(pids[0]), 'SIGKILL');
    }
    await done;
    clearTimeout(killer);
    const failures = stderr.split('\n').filter((l) => / aborted /.test(l));
    assert.ok(failures.length <= 3 * rounds, `at most the transactions in flight fail (${failures.length} in ${rounds} kills):\n${stderr}`);
    for (const l of failures) {
      assert.doesNotMatch(l, /recovery mode|starting up|shutting down|could not connect|ECONNREFUSED/i, `a failure that is not a transaction in flight:\n${stderr}`);
    }
    assert.match(stdout, /number of transactions actually processed: [1-9]/);
  });
});
