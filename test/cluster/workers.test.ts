/**
 * `pgmoat serve --workers 2` against a real PostgreSQL: sessions land on both workers, the
 * upstream never sees more than pool_size server connections, a cancel reaches its backend
 * whichever worker takes the cancel connection, SIGHUP and RELOAD reach every worker, the
 * primary serves the metrics of both (a revocation's first refusal counted once, not once per
 * worker), a killed worker is replaced, and SIGTERM leaves no worker.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { get } from 'node:http';
import pg from 'pg';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { makePki, type ClientFiles, type Pki } from '../harness/cert-factory.js';
import { cleanupDir, writeConfig } from '../harness/gateway.js';
import { freePort } from '../harness/free-port.js';
import { conninfo, psql } from '../harness/psql.js';
import { clientTlsSection, nodeSsl, plainUpstream, waitFor } from '../gateway/helpers.js';
import { RawConn, cancelRequest, resumableLogin } from '../gateway/raw-wire.js';
import { adminConn, parseMetrics, sample, showRows } from '../admin/helpers.js';
import { alive, startCluster, type ClusterGateway } from './helpers.js';

const POOL_SIZE = 4;

let upstream: PgServer;
let pki: Pki;
let app: ClientFiles;
let ops: ClientFiles;
let dir: string;
let port: number;
let httpPort: number;
let gw: ClusterGateway;
let monitor: pg.Client;

before(async () => {
  pki = await makePki();
  upstream = await startPostgres({ setupSql: 'CREATE ROLE app LOGIN; CREATE ROLE gone LOGIN; CREATE DATABASE appdb OWNER app;' });
  app = await pki.client('app');
  ops = await pki.client('ops');
  dir = mkdtempSync(join(tmpdir(), 'pgmoat-cluster-'));
  chmodSync(dir, 0o700);
  port = await freePort();
  httpPort = await freePort();
  const configPath = writeConfig(dir, {
    listen: { host: '127.0.0.1', port },
    log: { level: 'debug' },
    shutdown_timeout: '2s',
    pool_mode: 'transaction',
    tls: clientTlsSection(pki),
    databases: { appdb: plainUpstream(upstream, 'appdb', { pool_size: POOL_SIZE }) },
    admin: { identities: ['ops'], http: { host: '127.0.0.1', port: httpPort } },
  });
  gw = await startCluster(configPath, 2);
  monitor = new pg.Client({ host: '127.0.0.1', port: upstream.port, user: 'postgres', database: 'postgres' });
  await monitor.connect();
});

after(async () => {
  await monitor?.end();
  await gw?.stop('SIGKILL');
  await upstream?.stop();
  pki?.cleanup();
  if (dir) cleanupDir(dir);
});

const config = (): pg.ClientConfig => ({ host: '127.0.0.1', port, user: 'app', database: 'appdb', ssl: nodeSsl(app) });

async function upstreamConnections(): Promise<number> {
  const r = await monitor.query<{ n: string }>("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = 'appdb' AND usename = 'app'");
  return Number(r.rows[0]!.n);
}

function fetchText(p: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port: p, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

/** Workers (1-based) that logged `event` since line `from`. */
function workersOf(event: string, from = 0, extra: (l: Record<string, unknown>) => boolean = () => true): Set<unknown> {
  return new Set(gw.logs().slice(from).filter((l) => l.event === event && extra(l)).map((l) => l.worker));
}

test('many clients: sessions land on both workers and the upstream never exceeds pool_size', async () => {
  const clients = Array.from({ length: 12 }, () => new pg.Client(config()));
  await Promise.all(clients.map((c) => c.connect()));
  try {
    assert.deepEqual([...workersOf('login')].sort(), [1, 2], 'logins on both workers');
    let peak = 0;
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        peak = Math.max(peak, await upstreamConnections());
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    // 12 clients, each holding a server for a while: more demand than pool_size.
    const results = await Promise.all(clients.map((c, i) => c.query<{ n: number }>(`SELECT pg_sleep(0.4), ${i} AS n`)));
    sampling = false;
    await sampler;
    assert.deepEqual(
      results.map((r) => r.rows[0]!.n),
      clients.map((_, i) => i),
    );
    assert.ok(peak <= POOL_SIZE, `upstream connections peaked at ${peak}, pool_size is ${POOL_SIZE}`);
    assert.ok(peak >= 2, `both workers' pools were used (peak ${peak})`);
    assert.ok((await upstreamConnections()) <= POOL_SIZE);
  } finally {
    await Promise.all(clients.map((c) => c.end()));
  }
});

test('the admin console says which worker it runs on (SHOW VERSION)', async () => {
  const seen = new Set<string>();
  for (let i = 0; i < 6 && seen.size < 2; i++) {
    const rows = await showRows(adminConn(port, ops), 'SHOW VERSION');
    seen.add(rows[0]!.version!);
  }
  assert.deepEqual([...seen].map((v) => v.replace(/.*\(worker (\d) of 2\)$/, '$1')).sort(), ['1', '2']);
});

test('a CancelRequest reaches the backend whichever worker takes the cancel connection', async () => {
  const routedBefore = gw.events('cancel_routed').length;
  let local = 0;
  let routed = 0;
  for (let i = 0; i < 16 && (local === 0 || routed === 0 || i < 4); i++) {
    const client = new pg.Client(config());
    await client.connect();
    try {
      const outcome = client.query(`SELECT pg_sleep(30) /* cluster-cancel-${i} */`).then(
        () => undefined,
        (err: Error & { code?: string }) => err,
      );
      await waitFor(async () => {
        const r = await monitor.query<{ n: string }>("SELECT count(*) AS n FROM pg_stat_activity WHERE state = 'active' AND query LIKE $1", [`%cluster-cancel-${i} %`]);
        return r.rows[0]!.n !== '0';
      }, 'the upstream to run pg_sleep');
      const key = client as unknown as { processID: number; secretKey: number };
      const before = gw.events('cancel_routed').length;
      // Round robin would hand the cancel connection to the other worker every time: on odd
      // attempts one more connection first shifts it.
      if (i % 2 === 1) {
        const extra = await RawConn.open(port);
        extra.destroy();
      }
      const conn = await RawConn.open(port);
      conn.write(cancelRequest(key.processID, key.secretKey));
      assert.ok(await conn.waitClosed());
      const err = await outcome;
      assert.equal(err?.code, '57014', `attempt ${i}: ${err?.message ?? 'the query was not cancelled'}`);
      await waitFor(() => gw.events('cancel_routed').length >= before, 'the log');
      if (gw.events('cancel_routed').length > before) routed++;
      else local++;
    } finally {
      await client.end();
    }
  }
  assert.ok(local > 0, 'some cancels landed on the owning worker');
  assert.ok(routed > 0, 'some cancels were routed through the primary to the owner');
  assert.ok(gw.events('cancel_routed').length - routedBefore === routed);
});

test('a wrong secret routed to the owner cancels nothing', async () => {
  const client = new pg.Client(config());
  await client.connect();
  try {
    const key = client as unknown as { processID: number; secretKey: number };
    const query = client.query<{ done: string }>("SELECT pg_sleep(1), 'finished' AS done");
    // Two attempts: with two workers, at least one lands on a worker that does not own the key... or both on the owner.
    for (let i = 0; i < 2; i++) {
      const conn = await RawConn.open(port);
      conn.write(cancelRequest(key.processID, (key.secretKey + 1) | 0));
      assert.ok(await conn.waitClosed());
    }
    assert.equal((await query).rows[0]!.done, 'finished');
  } finally {
    await client.end();
  }
});

test('the primary serves metrics aggregated over both workers, and readiness', async () => {
  const m = parseMetrics((await fetchText(httpPort, '/metrics')).body);
  assert.equal(sample(m, 'pgmoat_workers'), 2);
  // Reported alike by both workers: kept once (aggregator "first"), not summed.
  assert.deepEqual(m.filter((s) => s.name === 'pgmoat_build_info').map((s) => s.value), [1]);
  // Counted per worker and summed: every query of every test so far.
  assert.ok((sample(m, 'pgmoat_queries_total', { database: 'appdb', user: 'app' }) ?? 0) >= 12);
  assert.equal((await fetchText(httpPort, '/readyz')).status, 200);
  assert.equal((await fetchText(httpPort, '/healthz')).status, 200);
});

test('SIGHUP and the console\'s RELOAD reach every worker', async () => {
  let from = gw.logs().length;
  gw.proc.kill('SIGHUP');
  await waitFor(() => workersOf('reload', from, (l) => l.outcome === 'ok').size === 2, 'both workers to reload on SIGHUP');
  from = gw.logs().length;
  const r = await psql(adminConn(port, ops), 'RELOAD');
  assert.equal(r.code, 0, r.stderr);
  await waitFor(() => workersOf('reload', from, (l) => l.outcome === 'ok' && l.trigger === 'RELOAD').size === 2, 'both workers to reload on RELOAD');
  const m = parseMetrics((await fetchText(httpPort, '/metrics')).body);
  assert.equal(sample(m, 'pgmoat_config_reloads_total', { outcome: 'ok' }), 4, 'two reloads on each of two workers');
});

test('PAUSE and RESUME from one console reach the pools of every worker', async () => {
  // A session on each worker, so that each has a pool.
  const clients = Array.from({ length: 4 }, () => new pg.Client(config()));
  await Promise.all(clients.map((c) => c.connect()));
  try {
    await Promise.all(clients.map((c) => c.query('SELECT 1')));
    const p = await psql(adminConn(port, ops), 'PAUSE appdb');
    assert.equal(p.code, 0, p.stderr);
    const m = parseMetrics((await fetchText(httpPort, '/metrics')).body);
    const paused = m.filter((s) => s.name === 'pgmoat_pool_paused');
    assert.ok(paused.length > 0 && paused.every((s) => s.value === 1), 'every pool paused');
    assert.equal(workersOf('admin_command', 0, (l) => l.command === 'PAUSE').size, 2);
    const r = await psql(adminConn(port, ops), 'RESUME appdb');
    assert.equal(r.code, 0, r.stderr);
    await Promise.all(clients.map((c) => c.query('SELECT 2')));
  } finally {
    await Promise.all(clients.map((c) => c.end()));
  }
});

test('SET and DISABLE from one console reach every worker; a bad SET reaches none', async () => {
  let from = gw.logs().length;
  const set = await psql(adminConn(port, ops), "SET query_wait_timeout = '7s'");
  assert.equal(set.code, 0, set.stderr);
  await waitFor(() => workersOf('admin_command', from, (l) => l.command === 'SET' && l.key === 'query_wait_timeout').size === 2, 'both workers to log the SET');
  // Admin sessions land on either worker: each answers with the new value.
  for (let i = 0; i < 4; i++) {
    const r = await psql(adminConn(port, ops), 'SHOW CONFIG');
    assert.match(r.stdout, /^query_wait_timeout\|7s\|2m\|yes$/m);
  }
  from = gw.logs().length;
  const bad = await psql(adminConn(port, ops), 'SET default_pool_size = 0');
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /invalid value for default_pool_size/);
  assert.equal(workersOf('admin_command', from, (l) => l.via === 'another worker').size, 0, 'refused before any other worker was asked');

  from = gw.logs().length;
  const off = await psql(adminConn(port, ops), 'DISABLE appdb');
  assert.equal(off.code, 0, off.stderr);
  try {
    await waitFor(() => workersOf('admin_command', from, (l) => l.command === 'DISABLE').size === 2, 'both workers to log the DISABLE');
    // New logins land on both workers: every one is refused.
    for (let i = 0; i < 4; i++) {
      const c = new pg.Client(config());
      c.on('error', () => undefined);
      const code = await c.connect().then(
        () => 'connected',
        (err: { code?: string }) => err.code,
      );
      await c.end().catch(() => undefined);
      assert.equal(code, '55000');
    }
  } finally {
    assert.equal((await psql(adminConn(port, ops), 'ENABLE appdb')).code, 0);
  }
  const c = new pg.Client(config());
  await c.connect();
  await c.query('SELECT 1');
  await c.end();
  assert.equal((await psql(adminConn(port, ops), 'RELOAD')).code, 0);
});

test('a TLS session ticket from one worker resumes on the other (the workers share ticket keys)', async () => {
  const first = await resumableLogin(port, app);
  assert.ok(first.ticket, 'a ticket after the full handshake');
  const loginsBefore = gw.events('login').length;
  const resumed: boolean[] = [];
  for (let i = 0; i < 6; i++) resumed.push((await resumableLogin(port, app, first.ticket)).reused);
  assert.deepEqual(resumed, [true, true, true, true, true, true]);
  await waitFor(() => gw.events('login').length >= loginsBefore + 6, 'the login lines');
  const workers = new Set(gw.events('login').slice(loginsBefore).map((l) => l.worker));
  assert.equal(workers.size, 2, `resumed sessions landed on workers ${[...workers].join(', ')}`);
});

test('a revoked certificate: one first_refusal across both workers, one session_ended per live session', async () => {
  const gone = await pki.client('gone');
  const goneConfig = (): pg.ClientConfig => ({ host: '127.0.0.1', port, user: 'gone', database: 'appdb', ssl: nodeSsl(gone) });
  // A live session of the certificate on each worker.
  const held: pg.Client[] = [];
  let from = gw.logs().length;
  for (let i = 0; i < 8 && workersOf('login', from, (l) => l.cn === 'gone').size < 2; i++) {
    const c = new pg.Client(goneConfig());
    c.on('error', () => undefined);
    await c.connect();
    held.push(c);
  }
  assert.equal(workersOf('login', from, (l) => l.cn === 'gone').size, 2, 'sessions of the certificate on both workers');
  const count = (m: ReturnType<typeof parseMetrics>, event: string): number => sample(m, 'pgmoat_revocation_delay_seconds_count', { event }) ?? 0;
  const before = parseMetrics((await fetchText(httpPort, '/metrics')).body);

  from = gw.logs().length;
  await pki.revoke('gone');
  await waitFor(() => workersOf('crl_reloaded', from, (l) => Array.isArray(l.newly_revoked) && l.newly_revoked.includes(gone.serial)).size === 2, 'both workers to load the CRL');
  await waitFor(async () => count(parseMetrics((await fetchText(httpPort, '/metrics')).body), 'session_ended') - count(before, 'session_ended') >= held.length, 'the live sessions to end');

  // Refused connections until both workers have refused the certificate (round robin: a few).
  from = gw.logs().length;
  const refusedOn = (): Set<unknown> => workersOf('login_refused', from, (l) => l.reason === 'revoked' && l.serial === gone.serial);
  let attempts = 0;
  for (; attempts < 12 && (attempts < 4 || refusedOn().size < 2); attempts++) {
    const r = await psql(conninfo(port, { user: 'gone', dbname: 'appdb', cert: gone }), 'SELECT 1');
    assert.notEqual(r.code, 0);
  }
  await waitFor(() => refusedOn().size === 2, 'refusals on both workers');
  await waitFor(async () => count(parseMetrics((await fetchText(httpPort, '/metrics')).body), 'first_refusal') > count(before, 'first_refusal'), 'the first refusal to be observed');
  const m = parseMetrics((await fetchText(httpPort, '/metrics')).body);
  assert.equal(count(m, 'first_refusal') - count(before, 'first_refusal'), 1, `one first refusal for ${attempts} refused connections on both workers`);
  assert.equal(count(m, 'session_ended') - count(before, 'session_ended'), held.length, 'one per live session, each ended by its own worker');
  for (const c of held) await c.end().catch(() => undefined);
});

test('a worker killed with SIGKILL is replaced and the gateway keeps serving', async () => {
  const before = gw.workerPids();
  assert.equal(before.length, 2);
  const from = gw.logs().length;
  process.kill(before[0]!, 'SIGKILL');
  await waitFor(() => gw.logs().slice(from).some((l) => l.event === 'worker_exited' && l.signal === 'SIGKILL'), 'the primary to notice');
  await waitFor(() => gw.logs().slice(from).some((l) => l.event === 'listening'), 'a replacement worker to listen', 20_000);
  const after = gw.workerPids();
  assert.equal(after.length, 2);
  assert.ok(!after.includes(before[0]!));
  for (let i = 0; i < 6; i++) {
    const c = new pg.Client(config());
    await c.connect();
    assert.equal((await c.query<{ n: number }>(`SELECT ${i} AS n`)).rows[0]!.n, i);
    await c.end();
  }
});

test('SIGTERM stops every worker, then the primary, with exit code 0', async () => {
  const pids = gw.workerPids();
  assert.equal(pids.length, 2);
  const code = await gw.stop('SIGTERM');
  assert.equal(code, 0, gw.output().slice(-2000));
  await waitFor(() => pids.every((p) => !alive(p)), 'the workers to be gone');
  assert.ok(gw.events('stopped').length === 1);
});
