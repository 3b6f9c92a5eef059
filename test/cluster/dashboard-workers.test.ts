/**
 * The dashboard under `pgmoat serve --workers 2`, against a real PostgreSQL, over real mutual
 * TLS: the primary answers with the sum of both workers (live sessions, a certificate's live
 * sessions), a revoke through the API ends the certificate's sessions on both workers and says
 * how many it ended in all, pause and resume reach both workers' pools, a reload reaches both
 * workers (a broken configuration is refused with its reason and changes nothing), and the CSRF
 * check still holds through the primary.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, chmodSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { makePki, type ClientFiles, type Pki } from '../harness/cert-factory.js';
import { cleanupDir, writeConfig } from '../harness/gateway.js';
import { freePort } from '../harness/free-port.js';
import { clientTlsSection, nodeSsl, plainUpstream, waitFor } from '../gateway/helpers.js';
import { call, type Answer, postAction } from '../admin/dashboard-helpers.js';
import { startCluster, type ClusterGateway } from './helpers.js';

let upstream: PgServer;
let pki: Pki;
let app: ClientFiles;
let ops: ClientFiles;
let dir: string;
let port: number;
let httpPort: number;
let gw: ClusterGateway;
let config: Record<string, unknown>;
let configPath: string;

before(async () => {
  pki = await makePki();
  upstream = await startPostgres({ setupSql: 'CREATE ROLE app LOGIN; CREATE DATABASE appdb OWNER app;' });
  app = await pki.client('app');
  ops = await pki.client('ops');
  dir = mkdtempSync(join(tmpdir(), 'pgmoat-dash-cluster-'));
  chmodSync(dir, 0o700);
  port = await freePort();
  httpPort = await freePort();
  config = {
    listen: { host: '127.0.0.1', port },
    log: { level: 'info' },
    shutdown_timeout: '2s',
    pool_mode: 'transaction',
    tls: clientTlsSection(pki),
    databases: { appdb: plainUpstream(upstream, 'appdb', { pool_size: 4 }) },
    admin: {
      identities: ['ops'],
      http: { host: '127.0.0.1', port: httpPort, tls: { cert: pki.server.certPath, key: pki.server.keyPath, ca: pki.main.caPath }, dashboard: { enabled: true } },
    },
  };
  configPath = writeConfig(dir, config);
  gw = await startCluster(configPath, 2);
});

after(async () => {
  await gw?.stop('SIGKILL');
  await upstream?.stop();
  pki?.cleanup();
  if (dir) cleanupDir(dir);
});

const get = (path: string): Promise<Answer> => call(httpPort, pki.main.caPem, path, { client: ops });

const post = (path: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer> => postAction(httpPort, pki.main.caPem, ops, path, body, headers);

interface Live {
  pools: { database: string; paused: boolean; waitingClients: number }[];
  sessions: { identity: string; database: string; count: number }[];
  problems?: string[];
}

const live = async (): Promise<Live> => {
  const r = await get('/dashboard/api/live');
  assert.equal(r.status, 200, r.body);
  return r.json as Live;
};

/** Workers (1-based) whose login lines name `serial`. */
const workersWith = (serial: string): Set<unknown> => new Set(gw.logs().filter((l) => l.event === 'login' && l.serial === serial).map((l) => l.worker));

/** Logins of `app` to `database` until both workers have served one; the clients are closed. */
async function loginOnBothWorkers(database: string): Promise<void> {
  const from = gw.logs().length;
  const served = (): Set<unknown> => new Set(gw.logs().slice(from).filter((l) => l.event === 'login' && l.database === database).map((l) => l.worker));
  for (let i = 0; served().size < 2; i++) {
    if (i >= 10) throw new Error(`logins to ${database} never reached both workers`);
    const c = new pg.Client({ host: '127.0.0.1', port, user: 'app', database, ssl: nodeSsl(app) });
    c.on('error', () => undefined);
    await c.connect();
    assert.equal((await c.query<{ db: string }>('SELECT current_database() AS db')).rows[0]!.db, 'appdb');
    await c.end();
    await waitFor(() => gw.logs().slice(from).filter((l) => l.event === 'login' && l.database === database).length > i, 'the login line');
  }
}

/** Connects clients with `who` until both workers hold at least one (the primary hands connections round robin). */
async function onBothWorkers(who: ClientFiles, atLeast: number): Promise<pg.Client[]> {
  const clients: pg.Client[] = [];
  while (clients.length < atLeast || workersWith(who.serial).size < 2) {
    if (clients.length >= 10) throw new Error('the sessions never reached both workers');
    const c = new pg.Client({ host: '127.0.0.1', port, user: 'app', database: 'appdb', ssl: nodeSsl(who) });
    c.on('error', () => undefined);
    await c.connect();
    clients.push(c);
    await waitFor(() => gw.logs().filter((l) => l.event === 'login' && l.serial === who.serial).length >= clients.length, 'the login line');
  }
  return clients;
}

let appClients: pg.Client[] = [];

test('live sessions and a certificate\'s live sessions are summed over both workers', async () => {
  appClients = await onBothWorkers(app, 4);
  const n = appClients.length;
  const v = await live();
  assert.equal(v.problems, undefined, 'every worker answered');
  assert.deepEqual(
    v.sessions.filter((s) => s.identity === 'app'),
    [{ identity: 'app', database: 'appdb', count: n }],
  );
  const certs = await get(`/dashboard/api/certificates?q=${app.serial}`);
  assert.equal(certs.status, 200, certs.body);
  const rows = (certs.json as { total: number; rows: { serial: string; name: string; status: string; liveSessions: number }[] }).rows;
  assert.deepEqual(rows.map((r) => [r.serial, r.name, r.status, r.liveSessions]), [[app.serial, 'app', 'valid', n]]);
  const sessions = (await get(`/dashboard/api/certificates/${app.serial}/sessions`)).json as { sessions: unknown[]; problems?: string[] };
  assert.equal(sessions.sessions.length, n);
  assert.equal(sessions.problems, undefined);
});

test('pause holds queries on both workers until resume', async () => {
  assert.ok(appClients.length >= 2);
  assert.equal((await post('/dashboard/api/actions/pause', { database: 'appdb' })).status, 200);
  assert.ok((await live()).pools.filter((p) => p.database === 'appdb').every((p) => p.paused));
  const queries = appClients.map((c) => c.query<{ one: number }>('SELECT 1 AS one'));
  let done = 0;
  for (const q of queries) void q.then(() => done++, () => undefined);
  // Every query waits: the sum of both workers' waiting clients reaches them all.
  await waitFor(async () => (await live()).pools.filter((p) => p.database === 'appdb').reduce((s, p) => s + p.waitingClients, 0) === queries.length, 'every query to wait');
  assert.equal(done, 0, 'no query ran while paused');
  assert.equal((await post('/dashboard/api/actions/resume', { database: 'appdb' })).status, 200);
  const results = await Promise.all(queries);
  assert.deepEqual(results.map((r) => r.rows[0]!.one), queries.map(() => 1));
  assert.ok((await live()).pools.filter((p) => p.database === 'appdb').every((p) => !p.paused));
});

test('CSRF is still refused through the primary', async () => {
  const plain = await call(httpPort, pki.main.caPem, '/dashboard/api/actions/resume', { client: ops, method: 'POST', body: '{"database":"appdb"}', headers: { 'content-type': 'application/json' } });
  assert.equal(plain.status, 403);
  const forged = await call(httpPort, pki.main.caPem, '/dashboard/api/actions/resume', { client: ops, method: 'POST', body: '{"database":"appdb"}', headers: { 'content-type': 'application/json', 'x-csrf-token': 'forged' } });
  assert.equal(forged.status, 403);
  assert.equal((await post('/dashboard/api/actions/resume', { database: 'appdb' }, { origin: 'https://evil.example' })).status, 403);
});

test('a revoke through the API ends the certificate\'s live sessions on both workers', async () => {
  const victim = await pki.client('app', { environment: 'production' });
  const clients = await onBothWorkers(victim, 2);
  let ended = 0;
  for (const c of clients) {
    let once = false;
    const end = (): void => void (once || ((once = true), ended++));
    c.on('error', end).on('end', end);
  }
  const r = await post('/dashboard/api/actions/revoke', { serial: victim.serial, reason: 'keyCompromise' });
  assert.equal(r.status, 200, r.body);
  assert.equal((r.json as { problems?: unknown }).problems, undefined, 'every worker was told');
  // The answer comes once every worker has the revocation in force: it counts both workers' sessions.
  assert.equal((r.json as { sessionsEnded?: number }).sessionsEnded, clients.length, r.body);
  await waitFor(() => gw.logs().some((l) => l.event === 'dashboard_action' && l.action === 'revoke' && l.target === victim.serial && l.sessionsEnded === clients.length && l.operator === 'ops'), 'the audit line with the count');
  await waitFor(() => ended === clients.length, 'every session of the revoked certificate to end');
  await waitFor(async () => !(await live()).sessions.some((s) => s.identity === 'app' && s.count > appClients.length), 'the victim\'s sessions to leave the live view');
  const rows = ((await get(`/dashboard/api/certificates?q=${victim.serial}&status=revoked`)).json as { rows: { serial: string; status: string }[] }).rows;
  assert.deepEqual(rows.map((x) => [x.serial, x.status]), [[victim.serial, 'revoked']]);
  // The other certificate's sessions live on.
  for (const c of appClients) await c.query('SELECT 1');
});

after(async () => {
  await Promise.all(appClients.map((c) => c.end().catch(() => undefined)));
});

test('reload through the dashboard reaches both workers; a broken configuration is refused with its reason and changes nothing', async () => {
  // appdb2 (another name for the same database) is not configured yet.
  const before = new pg.Client({ host: '127.0.0.1', port, user: 'app', database: 'appdb2', ssl: nodeSsl(app) });
  before.on('error', () => undefined);
  await assert.rejects(before.connect(), /appdb2/);
  const good = { ...config, databases: { ...(config.databases as Record<string, unknown>), appdb2: plainUpstream(upstream, 'appdb', { pool_size: 2 }) } };
  writeConfig(dir, good);
  const r = await post('/dashboard/api/actions/reload', {});
  assert.equal(r.status, 200, r.body);
  assert.equal((r.json as { problems?: unknown }).problems, undefined, 'every worker reloaded');
  await loginOnBothWorkers('appdb2');
  await waitFor(() => gw.logs().some((l) => l.event === 'dashboard_action' && l.action === 'reload' && l.operator === 'ops' && l.outcome === 'ok'), 'the audit line naming the operator');

  // A broken file: refused on the page with the reason; the running configuration stays on both workers.
  writeFileSync(configPath, 'databases: [this is not\n');
  const bad = await post('/dashboard/api/actions/reload', {});
  assert.equal(bad.status, 409, bad.body);
  const error = (bad.json as { error: { code: string; message: string } }).error;
  assert.match(error.code, /^(RELOAD_REFUSED|CONFIG_INVALID|CONFIG_UNREADABLE)$/, bad.body);
  assert.match(error.message, /pgmoat\.yaml|YAML|flow/i, bad.body);
  await waitFor(() => gw.logs().some((l) => l.event === 'dashboard_action' && l.action === 'reload' && l.operator === 'ops' && l.outcome === 'failed' && typeof l.reason === 'string'), 'the failed audit line');
  await loginOnBothWorkers('appdb2');
  writeConfig(dir, good);
});

test('a worker killed after a load: /dashboard/api/trends draws no negative point and no spike of the survivor\'s whole count', { timeout: 150_000 }, async () => {
  interface TrendsAnswer {
    step: number;
    series: { t: number[]; tps: number[]; handshakes: number[]; refusals: Record<string, number[]>; waitP99Ms: number[]; renewals: number[] };
  }
  const trends = async (): Promise<TrendsAnswer> => (await get('/dashboard/api/trends')).json as TrendsAnswer;
  let queries = 0;
  // Sessions on both workers (so that each worker's count is a good share of the whole), each
  // running SELECT 1 back to back until the kill.
  const from0 = gw.logs().length;
  const loaders: pg.Client[] = [];
  const served = (): Set<unknown> => new Set(gw.logs().slice(from0).filter((l) => l.event === 'login' && l.serial === app.serial).map((l) => l.worker));
  while (served().size < 2) {
    if (loaders.length >= 10) throw new Error('the load never reached both workers');
    const c = new pg.Client({ host: '127.0.0.1', port, user: 'app', database: 'appdb', ssl: nodeSsl(app), connectionTimeoutMillis: 5_000, query_timeout: 5_000 });
    c.on('error', () => undefined);
    await c.connect();
    loaders.push(c);
    await waitFor(() => gw.logs().slice(from0).filter((l) => l.event === 'login' && l.serial === app.serial).length >= loaders.length, 'the login line');
  }
  let stop = false;
  const load = loaders.map(async (c) => {
    while (!stop) {
      await c.query('SELECT 1');
      queries++;
    }
    await c.end();
  });
  const startT = Math.floor(Date.now() / 1000);
  await waitFor(async () => queries >= 500 && (await trends()).series.t.some((t) => t > startT), 'load and a trend point', 60_000);
  // The load stops, a reading takes in its last transactions, then a worker is killed: from then
  // on nothing runs, so every point after the kill must be 0, though the sum of the counters falls
  // by the killed worker's whole count (a difference of sums reads that as a reset and draws the
  // survivor's whole count again).
  stop = true;
  await Promise.all(load);
  const stoppedAt = Math.ceil(Date.now() / 1000);
  await waitFor(async () => (await trends()).series.t.some((t) => t > stoppedAt), 'a trend point after the load', 60_000);
  const pids = gw.workerPids();
  assert.equal(pids.length, 2);
  const from = gw.logs().length;
  const killedAt = Math.ceil(Date.now() / 1000);
  process.kill(pids[0]!, 'SIGKILL');
  await waitFor(() => gw.logs().slice(from).some((l) => l.event === 'listening'), 'a replacement worker to listen', 30_000);
  // Two readings after the replacement listens: the one that sees the new worker, and one more.
  const listenedAt = Math.ceil(Date.now() / 1000);
  await waitFor(async () => (await trends()).series.t.filter((t) => t > listenedAt).length >= 2, 'two trend points after the replacement', 60_000);
  const v = await trends();
  for (const [name, series] of Object.entries({ tps: v.series.tps, handshakes: v.series.handshakes, renewals: v.series.renewals, waitP99Ms: v.series.waitP99Ms, ...v.series.refusals })) {
    assert.ok(series.every((x) => Number.isFinite(x) && x >= 0), `${name}: ${series.join(',')}`);
  }
  const duringLoad = v.series.tps.filter((_, i) => v.series.t[i]! > startT && v.series.t[i]! <= stoppedAt + v.step);
  assert.ok(duringLoad.some((x) => x > 0), `the load shows: ${v.series.tps.join(',')}`);
  const afterKill = v.series.tps.filter((_, i) => v.series.t[i]! > killedAt);
  assert.ok(afterKill.length >= 2);
  assert.ok(afterKill.every((x) => x < 1), `nothing ran after the kill, the trend says ${afterKill.join(',')} tps (${queries} transactions ran before)`);
});
