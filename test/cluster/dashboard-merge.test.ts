/**
 * The primary's dashboard under `serve --workers N` (cluster/dashboard-source.ts) over stand-in
 * workers, served by the real handler (admin/dashboard/handler.ts) on a plain HTTP listener with a
 * bearer token: live views and counters are sums over workers, grouped per database and user or
 * per identity and database; refusals are merged newest first and capped; a page of certificates
 * is a page of the merged whole, sorted after the merge; a worker that does not answer is named in
 * the answer; a replaced worker (counters from zero) never draws a negative or inflated trend
 * point; a revoke's answer sums the sessions every worker ended.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { Writable } from 'node:stream';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { Dashboard } from '../../src/admin/dashboard/handler.js';
import { MAX_SESSION_GROUPS } from '../../src/admin/dashboard/live-view.js';
import { RECENT_REFUSALS } from '../../src/admin/dashboard/refusal-ring.js';
import { Trends } from '../../src/admin/dashboard/trends.js';
import { addActivity, pageOfCertificates } from '../../src/admin/dashboard/certificates-view.js';
import type { CertificateActivity, CertificateRow, CounterSample, LiveView, PoolRow, RefusalRow } from '../../src/admin/dashboard/types.js';
import { clusterDashboard, mergeCounters, mergeLive, type DashboardWorker, type WorkerAnswer } from '../../src/cluster/dashboard-source.js';
import type { DashboardCall } from '../../src/cluster/messages.js';

const TOKEN = 'merge-test-token';
const dir = mkdtempSync(join(tmpdir(), 'pgmoat-dash-merge-'));
const tokenFile = join(dir, 'token');
writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
after(() => rmSync(dir, { recursive: true, force: true }));

function pool(database: string, user: string, n: Partial<PoolRow> = {}): PoolRow {
  return { database, user, mode: 'transaction', activeServers: 0, idleServers: 0, waitingClients: 0, activeClients: 0, paused: false, disabled: false, ...n };
}

function view(v: Partial<LiveView>): LiveView {
  return { pools: [], sessions: [], refusals: [], crl: { revokedCount: 0 }, ...v };
}

function cert(serial: string, name: string, n: Partial<CertificateRow> = {}): CertificateRow {
  return {
    serial,
    name,
    environment: 'production',
    kind: 'client',
    sans: [],
    issued: '2026-11-01T00:00:00.000Z',
    notBefore: '2026-11-01T00:00:00.000Z',
    notAfter: `2027-01-${serial.slice(-2)}T00:00:00.000Z`,
    status: 'valid',
    liveSessions: 0,
    renewalWindow: false,
    nearExpiry: false,
    ...n,
  };
}

/**
 * A worker's certificate answers over its own rows (its catalog with its own live sessions and
 * last sightings), as LocalDashboard gives them: its activity, or a page with the others' added in.
 */
function certAnswers(rows: () => CertificateRow[]): (call: DashboardCall) => unknown {
  return (call) => {
    if (call.op === 'activity') {
      const a: CertificateActivity = { live: {}, lastSeen: {} };
      for (const r of rows()) {
        if (r.liveSessions > 0) a.live[r.serial] = r.liveSessions;
        if (r.lastSeen !== undefined) a.lastSeen[r.serial] = r.lastSeen;
      }
      return a;
    }
    if (call.op === 'certificate-page') {
      const mine = rows().map((r) => ({ ...r }));
      addActivity(mine, call.others);
      return pageOfCertificates(mine, call.query);
    }
    return undefined;
  };
}

function counters(n: Partial<CounterSample> = {}): CounterSample {
  return { transactions: 0, handshakes: 0, refusals: {}, waitP99Ms: 0, renewals: 0, ...n };
}

/** A stand-in worker: answers each call with `answer`, or, for the ops in `silent`, as the primary does when a worker's deadline passes. */
class FakeWorker implements DashboardWorker {
  running = true;
  silent = new Set<string>();
  readonly calls: DashboardCall[] = [];
  constructor(
    readonly name: string,
    public pid: number,
    public answer: (call: DashboardCall) => unknown,
  ) {}
  async ask(call: DashboardCall, timeoutMs: number): Promise<WorkerAnswer> {
    this.calls.push(call);
    if (this.silent.has(call.op)) return { ok: false, error: `no answer within ${timeoutMs} ms` };
    return { ok: true, value: this.answer(call) };
  }
}

interface Served {
  get(path: string): Promise<{ status: number; json: Record<string, unknown> }>;
  post(path: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }>;
  dashboard: Dashboard;
  lines: Record<string, unknown>[];
}

const servers: Server[] = [];
const dashboards: Dashboard[] = [];
after(() => {
  for (const s of servers) s.close();
  for (const d of dashboards) d.close();
});

/** The real handler over clusterDashboard(workers), on 127.0.0.1 with a bearer token. */
async function serve(workers: DashboardWorker[] | (() => DashboardWorker[])): Promise<Served> {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  const source = clusterDashboard({ workers: typeof workers === 'function' ? workers : () => workers, own: () => [], reloadPrimary: async () => undefined });
  const dashboard = new Dashboard({ enabled: true, token_file: tokenFile }, source, pino({ level: 'info' }, sink));
  dashboard.close(); // no timer: the tests take their trend readings themselves
  dashboards.push(dashboard);
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    // As the admin listener does (http-server.ts): what the handler throws is a 500.
    dashboard.handle(req, res, url.pathname, url.searchParams).catch(() => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      res.end('internal error\n');
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const auth = { authorization: `Bearer ${TOKEN}` };
  const get = async (path: string) => {
    const r = await fetch(base + path, { headers: auth });
    const text = await r.text();
    return { status: r.status, json: (text.startsWith('{') ? JSON.parse(text) : { text }) as Record<string, unknown> };
  };
  const post = async (path: string, body: unknown) => {
    const csrf = (await get('/dashboard/api/session')).json.csrf as string;
    const r = await fetch(base + path, { method: 'POST', headers: { ...auth, 'content-type': 'application/json', 'x-csrf-token': csrf }, body: JSON.stringify(body) });
    return { status: r.status, json: (await r.json()) as Record<string, unknown> };
  };
  return { get, post, dashboard, lines };
}

test('mergeLive: pools summed per database and user, paused only when every worker is; sessions per identity and database', () => {
  const a = view({
    pools: [pool('appdb', 'app', { activeServers: 1, idleServers: 2, waitingClients: 3, activeClients: 4, paused: true }), pool('appdb', 'report', { activeServers: 1 })],
    sessions: [
      { identity: 'alice', database: 'appdb', count: 2 },
      { identity: 'bob', database: 'appdb', count: 1 },
    ],
  });
  const b = view({
    pools: [pool('appdb', 'app', { activeServers: 10, idleServers: 20, waitingClients: 30, activeClients: 40, paused: false }), pool('other', 'app', { idleServers: 5 })],
    sessions: [
      { identity: 'alice', database: 'appdb', count: 3 },
      { identity: 'alice', database: 'other', count: 7 },
    ],
  });
  const m = mergeLive([a, b], []);
  const byKey = Object.fromEntries(m.pools.map((p) => [`${p.database}/${p.user}`, p]));
  assert.deepEqual(Object.keys(byKey).sort(), ['appdb/app', 'appdb/report', 'other/app']);
  assert.deepEqual(byKey['appdb/app'], pool('appdb', 'app', { activeServers: 11, idleServers: 22, waitingClients: 33, activeClients: 44, paused: false }));
  assert.equal(byKey['other/app']!.idleServers, 5);
  assert.deepEqual(
    m.sessions.map((s) => `${s.identity}/${s.database}=${s.count}`).sort(),
    ['alice/appdb=5', 'alice/other=7', 'bob/appdb=1'],
  );
  assert.equal(m.problems, undefined, 'every worker answered: nothing to say');
  assert.equal(mergeLive([a, b], []).pools.find((p) => p.user === 'app' && p.database === 'appdb')!.paused, false);
  assert.equal(mergeLive([a, view({ pools: [pool('appdb', 'app', { paused: true })] })], []).pools[0]!.paused, true, 'paused on both: paused');
  // The inputs are not changed by the merge (a worker's view may be reused).
  assert.equal(a.pools[0]!.activeServers, 1);
});

test('mergeLive: refusals of every worker newest first, capped at the ring size; the stalest CRL; the store connected only when every worker is', () => {
  const refusals = (worker: number, n: number): RefusalRow[] => Array.from({ length: n }, (_, i) => ({ at: 1_000_000 + i * 10 + worker, reason: `w${worker}`, address: `10.0.0.${worker}` })).reverse();
  const a = view({ refusals: refusals(1, RECENT_REFUSALS), crl: { ageSeconds: 30, nextUpdate: 5, revokedCount: 2 }, store: { connected: true, ageSeconds: 1 } });
  const b = view({ refusals: refusals(2, RECENT_REFUSALS), crl: { ageSeconds: 90, nextUpdate: 6, revokedCount: 2 }, store: { connected: false, ageSeconds: 40 } });
  const m = mergeLive([a, b], []);
  assert.equal(m.refusals.length, RECENT_REFUSALS);
  const ats = m.refusals.map((r) => r.at);
  assert.deepEqual(ats, [...ats].sort((x, y) => y - x), 'newest first');
  // The newest 50 of the 100: both workers' last 25, interleaved by time.
  assert.equal(ats[0], 1_000_000 + (RECENT_REFUSALS - 1) * 10 + 2);
  assert.deepEqual(m.refusals.slice(0, 4).map((r) => r.reason), ['w2', 'w1', 'w2', 'w1']);
  assert.equal(m.refusals.filter((r) => r.reason === 'w1').length, RECENT_REFUSALS / 2);
  assert.deepEqual(m.crl, { ageSeconds: 90, nextUpdate: 6, revokedCount: 2 });
  assert.deepEqual(m.store, { connected: false, ageSeconds: 40 });
});

test('a page sorted by live sessions counts the sessions of the other worker; only activity and one page cross the IPC', async () => {
  // 40 certificates. Worker 1 (which builds the page) has no session at all; worker 2 holds
  // sessions of 5 certificates and saw 3 others lately.
  const catalog = Array.from({ length: 40 }, (_, i) => `0e${String(i + 10).padStart(2, '0')}`);
  const busy: Record<string, number> = { '0e17': 4, '0e33': 9, '0e12': 1, '0e40': 2, '0e25': 6 };
  const w1 = new FakeWorker('worker 1', 11, certAnswers(() => catalog.map((serial, i) => cert(serial, `id${i}`))));
  const w2 = new FakeWorker(
    'worker 2',
    12,
    certAnswers(() => catalog.map((serial, i) => cert(serial, `id${i}`, { liveSessions: busy[serial] ?? 0, lastSeen: busy[serial] ? 5000 + busy[serial] : ['0e20', '0e21', '0e22'].includes(serial) ? 4000 + i : undefined }))),
  );
  const s = await serve([w1, w2]);
  const page = await s.get('/dashboard/api/certificates?sort=sessions&dir=desc&limit=4');
  assert.equal(page.status, 200);
  assert.equal(page.json.total, 40);
  assert.deepEqual((page.json.rows as CertificateRow[]).map((r) => `${r.serial}:${r.liveSessions}`), ['0e33:9', '0e25:6', '0e17:4', '0e40:2']);
  // What each worker was asked: its activity, and one of them the page (with the other's activity).
  const ops = (w: FakeWorker) => w.calls.map((c) => c.op).filter((op) => op !== 'counters'); // the handler's first trends reading
  assert.deepEqual(ops(w1), ['activity', 'certificate-page']);
  assert.deepEqual(ops(w2), ['activity']);
  const asked = w1.calls.find((c) => c.op === 'certificate-page') as Extract<DashboardCall, { op: 'certificate-page' }>;
  assert.deepEqual(asked.others, [{ live: busy, lastSeen: { '0e12': 5001, '0e17': 5004, '0e20': 4010, '0e21': 4011, '0e22': 4012, '0e25': 5006, '0e33': 5009, '0e40': 5002 } }]);
  assert.deepEqual(asked.query, { offset: 0, limit: 4, sort: 'sessions', dir: 'desc', q: '', status: 'all' });
  // Sorted by last seen, the other worker's sightings too.
  const seen = await s.get('/dashboard/api/certificates?sort=last_seen&dir=desc&limit=3&offset=5');
  assert.deepEqual((seen.json.rows as CertificateRow[]).map((r) => `${r.serial}:${r.lastSeen}`), ['0e22:4012', '0e21:4011', '0e20:4010']);
  // The worker asked for the page fails: the next one builds it, still with the first one's sessions.
  w1.silent = new Set(['certificate-page']);
  w2.calls.length = 0;
  const again = await s.get('/dashboard/api/certificates?sort=sessions&dir=desc&limit=2');
  assert.equal(again.status, 200);
  assert.deepEqual((again.json.rows as CertificateRow[]).map((r) => `${r.serial}:${r.liveSessions}`), ['0e33:9', '0e25:6']);
  assert.deepEqual(ops(w2), ['activity', 'certificate-page']);
  assert.equal(again.json.problems, undefined, 'every worker\'s activity is in the page');
});

test('mergeCounters: sums over workers and the primary\'s renewals, each worker kept as its own part', () => {
  const m = mergeCounters(
    { 'worker 1 pid 11': counters({ transactions: 10, handshakes: 2, refusals: { revoked: 1 }, waitP99Ms: 5, renewals: 0 }), 'worker 2 pid 12': counters({ transactions: 20, handshakes: 3, refusals: { revoked: 2, expired: 4 }, waitP99Ms: 9 }) },
    7,
    ['worker 3: no answer within 5000 ms'],
  );
  assert.equal(m.transactions, 30);
  assert.equal(m.handshakes, 5);
  assert.deepEqual(m.refusals, { revoked: 3, expired: 4 });
  assert.equal(m.waitP99Ms, 9, 'the worst worker\'s p99');
  assert.equal(m.renewals, 7);
  assert.deepEqual(Object.keys(m.parts ?? {}).sort(), ['primary', 'worker 1 pid 11', 'worker 2 pid 12']);
  assert.deepEqual(m.problems, ['worker 3: no answer within 5000 ms']);
});

test('a page of certificates is the right page of the merged whole, sorted after the merge, whatever each worker holds', async () => {
  // 30 certificates; worker 1 saw the first half lately, worker 2 the second half: sorted by
  // last seen, the merged order interleaves what neither worker alone would put on a page.
  const catalog = Array.from({ length: 30 }, (_, i) => `0b${String(i + 10).padStart(2, '0')}`);
  const seenBy = (w: number) => (serial: string, i: number) => cert(serial, `id${i}`, (i < 15) === (w === 1) ? { lastSeen: 1000 + (i % 15) * 2 + w, liveSessions: w } : {});
  const w1 = new FakeWorker('worker 1', 11, certAnswers(() => catalog.map(seenBy(1))));
  const w2 = new FakeWorker('worker 2', 12, certAnswers(() => catalog.map(seenBy(2))));
  const s = await serve([w1, w2]);
  const all: string[] = [];
  for (let offset = 0; offset < 30; offset += 7) {
    const page = await s.get(`/dashboard/api/certificates?sort=last_seen&dir=desc&limit=7&offset=${offset}`);
    assert.equal(page.status, 200);
    assert.equal(page.json.total, 30);
    assert.equal(page.json.problems, undefined);
    assert.ok((page.json.rows as CertificateRow[]).length <= 7);
    all.push(...(page.json.rows as CertificateRow[]).map((r) => `${r.serial}:${r.lastSeen ?? '-'}:${r.liveSessions}`));
  }
  const expected = catalog
    .map((serial, i) => ({ serial, lastSeen: i < 15 ? 1000 + i * 2 + 1 : 1000 + (i - 15) * 2 + 2, live: i < 15 ? 1 : 2 }))
    .sort((a, b) => b.lastSeen - a.lastSeen || a.serial.localeCompare(b.serial))
    .map((r) => `${r.serial}:${r.lastSeen}:${r.live}`);
  assert.deepEqual(all, expected);
  // The first page holds certificates of both halves: no worker's own page would.
  assert.deepEqual(new Set(all.slice(0, 7).map((r) => r.split(':')[2])), new Set(['1', '2']));
});

test('a worker that does not answer in time is named: live, certificates and trends never pass a part for the whole', async () => {
  const certs1 = certAnswers(() => [cert('0c01', 'alice', { liveSessions: 2 })]);
  const certs2 = certAnswers(() => [cert('0c01', 'alice', { liveSessions: 3 })]);
  const w1 = new FakeWorker('worker 1', 11, (c) =>
    c.op === 'live' ? view({ sessions: [{ identity: 'alice', database: 'appdb', count: 2 }] }) : c.op === 'counters' ? counters({ transactions: 100 }) : certs1(c),
  );
  const w2 = new FakeWorker('worker 2', 12, (c) =>
    c.op === 'live' ? view({ sessions: [{ identity: 'alice', database: 'appdb', count: 3 }] }) : c.op === 'counters' ? counters({ transactions: 200 }) : certs2(c),
  );
  const s = await serve([w1, w2]);
  // The handler took a first reading as it started: this one is a step after it.
  const t0 = Date.now() + 10_000;
  await s.dashboard.sampleTrends(t0);
  const w1Before = w1.answer;
  w1.answer = (c) => (c.op === 'counters' ? counters({ transactions: 110 }) : w1Before(c));
  w2.silent = new Set(['live', 'activity', 'counters']);
  const live = await s.get('/dashboard/api/live');
  assert.equal(live.status, 200);
  assert.deepEqual(live.json.sessions, [{ identity: 'alice', database: 'appdb', count: 2 }]);
  assert.deepEqual(live.json.problems, ['worker 2: no answer within 5000 ms']);
  const certs = await s.get('/dashboard/api/certificates');
  assert.equal(certs.status, 200);
  assert.equal((certs.json.rows as CertificateRow[])[0]!.liveSessions, 2);
  assert.deepEqual(certs.json.problems, ['worker 2: no answer within 5000 ms'], 'the certificates say whose live sessions are missing');
  // A reading without worker 2: marked incomplete, and worker 2's 200 are not read as a fall.
  await s.dashboard.sampleTrends(t0 + 10_000);
  w2.silent.clear();
  w2.answer = (c) => (c.op === 'counters' ? counters({ transactions: 260 }) : undefined);
  // Worker 2 is back: its 60 transactions over the two steps land now, at its own rate.
  await s.dashboard.sampleTrends(t0 + 20_000);
  const trends = (await s.get('/dashboard/api/trends')).json as { series: { t: number[]; tps: number[] }; incomplete: number[] };
  const t1 = Math.round((t0 + 10_000) / 1000);
  assert.deepEqual(trends.series.t.slice(-2), [t1, t1 + 10]);
  assert.deepEqual(trends.series.tps.slice(-2), [1, 3], 'worker 1: 10 then 0 in 10 s; worker 2: 60 in 20 s');
  assert.deepEqual(trends.incomplete, [t1]);
  // No worker at all: an error, not an empty view.
  w1.silent = new Set(['live']);
  w2.silent = new Set(['live']);
  const none = await s.get('/dashboard/api/live');
  assert.equal(none.status, 503);
  assert.equal((none.json.error as { code: string }).code, 'DASHBOARD_WORKERS');
  assert.match((none.json.error as { message: string }).message, /worker 1: no answer within 5000 ms; worker 2: no answer within 5000 ms/);
});

test('trends: a worker replaced by a new process (counters from zero) draws no negative and no inflated point', async () => {
  // The real Trends over the real merge: two workers, then worker 2 killed and replaced.
  let parts: Record<string, CounterSample> = {
    'worker 1 pid 11': counters({ transactions: 5000, handshakes: 50, refusals: { revoked: 5 }, renewals: 0 }),
    'worker 2 pid 12': counters({ transactions: 5000, handshakes: 50, refusals: { revoked: 5 } }),
  };
  let problems: string[] = [];
  const trends = new Trends(async () => mergeCounters(parts, 0, problems));
  await trends.sample(0);
  parts = { 'worker 1 pid 11': counters({ transactions: 5100, handshakes: 51, refusals: { revoked: 6 } }), 'worker 2 pid 12': counters({ transactions: 5100, handshakes: 51, refusals: { revoked: 5 } }) };
  await trends.sample(10_000);
  // Worker 2 killed: the primary has no worker 2 for a moment.
  parts = { 'worker 1 pid 11': counters({ transactions: 5200, handshakes: 52, refusals: { revoked: 6 } }) };
  problems = ['worker 2: not running (starting or restarting)'];
  await trends.sample(20_000);
  // Its replacement counts from zero.
  parts = { 'worker 1 pid 11': counters({ transactions: 5300, handshakes: 53, refusals: { revoked: 6 } }), 'worker 2 pid 13': counters({ transactions: 40, handshakes: 4, refusals: { revoked: 1 } }) };
  problems = [];
  await trends.sample(30_000);
  parts = { 'worker 1 pid 11': counters({ transactions: 5400, handshakes: 54, refusals: { revoked: 6 } }), 'worker 2 pid 13': counters({ transactions: 140, handshakes: 5, refusals: { revoked: 1 } }) };
  await trends.sample(40_000);
  const v = trends.view();
  for (const series of [v.series.tps, v.series.handshakes, v.series.renewals, ...Object.values(v.series.refusals)]) {
    assert.ok(series.every((x) => x >= 0), `no negative point: ${series.join(',')}`);
  }
  assert.deepEqual(v.series.tps, [20, 10, 14, 20]);
  assert.deepEqual(v.series.handshakes, [2, 1, 5, 2]);
  assert.deepEqual(v.series.refusals.revoked, [1, 0, 1, 0]);
  assert.deepEqual(v.incomplete, [20]);
});

test('trends: a worker missing from the very first reading is not counted whole when it first answers', async () => {
  let parts: Record<string, CounterSample> = { 'worker 1 pid 11': counters({ transactions: 1000 }) };
  let problems = ['worker 2: no answer within 5000 ms'];
  const trends = new Trends(async () => mergeCounters(parts, 0, problems));
  await trends.sample(0);
  // Worker 2 (running all along, 9000 transactions so far) answers now: those are not this step's.
  parts = { 'worker 1 pid 11': counters({ transactions: 1100 }), 'worker 2 pid 12': counters({ transactions: 9000 }) };
  problems = [];
  await trends.sample(10_000);
  parts = { 'worker 1 pid 11': counters({ transactions: 1200 }), 'worker 2 pid 12': counters({ transactions: 9100 }) };
  await trends.sample(20_000);
  // Once a reading had every worker, a new part is a new process: all its counts are new.
  parts = { 'worker 1 pid 11': counters({ transactions: 1300 }), 'worker 2 pid 13': counters({ transactions: 50 }) };
  await trends.sample(30_000);
  assert.deepEqual(trends.view().series.tps, [10, 20, 15]);
});

test('a single process (no parts): a counter that falls counts from zero, never negative', async () => {
  let s = counters({ transactions: 1000, handshakes: 10 });
  const trends = new Trends(async () => s);
  await trends.sample(0);
  s = counters({ transactions: 30, handshakes: 1 });
  await trends.sample(10_000);
  assert.deepEqual(trends.view().series.tps, [3]);
  assert.deepEqual(trends.view().series.handshakes, [1]);
});

test('a revoke answers with the sessions every worker ended, once each has it in force; a worker that never confirms is named', async () => {
  const revoker = new FakeWorker('worker 1', 11, (c) => (c.op === 'act' ? { revoked: ['0d01'], crlNumber: '7', sessionsEnded: 2 } : undefined));
  const other = new FakeWorker('worker 2', 12, (c) => (c.op === 'revoked' ? { sessionsEnded: 3 } : undefined));
  // As the primary does: new objects for the same workers at every call.
  const s = await serve(() => [{ ...revoker, ask: revoker.ask.bind(revoker) }, { ...other, ask: other.ask.bind(other) }]);
  const r = await s.post('/dashboard/api/actions/revoke', { serial: '0d01', reason: 'keyCompromise' });
  assert.equal(r.status, 200);
  assert.deepEqual(r.json, { ok: true, revoked: ['0d01'], crlNumber: '7', sessionsEnded: 5 });
  assert.deepEqual(other.calls.at(-1), { op: 'revoked', serials: ['0d01'] }, 'the other worker was asked to confirm the serials revoked');
  assert.equal(revoker.calls.filter((c) => c.op === 'act').length, 1, 'one worker revokes');
  assert.equal(revoker.calls.filter((c) => c.op === 'revoked').length, 0, 'the revoker is not asked again (nor counted twice)');
  const audit = s.lines.find((l) => l.event === 'dashboard_action');
  assert.equal(audit?.operator, 'token');
  assert.equal(audit?.sessionsEnded, 5);
  assert.equal(audit?.outcome, 'ok');
  other.answer = (c) => (c.op === 'revoked' ? { sessionsEnded: 1, notInForce: ['0d02'] } : undefined);
  revoker.answer = (c) => (c.op === 'act' ? { revoked: ['0d02'], crlNumber: '8', sessionsEnded: 0 } : undefined);
  const late = await s.post('/dashboard/api/actions/revoke', { serial: '0d02' });
  assert.equal(late.status, 200);
  assert.equal(late.json.sessionsEnded, 1);
  assert.deepEqual(late.json.problems, ['worker 2: not in force: 0d02']);
});

test('live: the session groups are capped after the merge, largest first, with the totals of every group', async () => {
  // 400 groups on each worker, 200 of them on both: 600 groups after the merge, and 'wide/appdb'
  // with 30 sessions on each worker: the largest only in sum.
  const groups = (w: number) => Array.from({ length: 400 }, (_, i) => ({ identity: `id-${w === 1 ? i : i + 200}`, database: 'appdb', count: 1 + (i % 3) }));
  const w1 = new FakeWorker('worker 1', 11, () => view({ sessions: [...groups(1), { identity: 'wide', database: 'appdb', count: 30 }] }));
  const w2 = new FakeWorker('worker 2', 12, () => view({ sessions: [...groups(2), { identity: 'wide', database: 'appdb', count: 30 }] }));
  const s = await serve([w1, w2]);
  const live = (await s.get('/dashboard/api/live')).json as unknown as LiveView;
  const merged = mergeLive([w1.answer({ op: 'live' }) as LiveView, w2.answer({ op: 'live' }) as LiveView], []).sessions;
  assert.equal(merged.length, 601);
  assert.equal(live.sessions.length, MAX_SESSION_GROUPS);
  assert.equal(live.sessionGroups, 601);
  assert.equal(live.sessionCount, merged.reduce((n, g) => n + g.count, 0));
  assert.equal(live.identityCount, 601);
  assert.deepEqual(live.sessions[0], { identity: 'wide', database: 'appdb', count: 60 }, 'the largest group in sum comes first');
  const counts = live.sessions.map((g) => g.count);
  assert.deepEqual(counts, [...counts].sort((a, b) => b - a), 'largest first');
  // What is left out is no larger than what is kept.
  const kept = new Set(live.sessions.map((g) => `${g.identity}/${g.database}`));
  const leftOut = merged.filter((g) => !kept.has(`${g.identity}/${g.database}`));
  assert.equal(leftOut.length, 101);
  assert.ok(Math.max(...leftOut.map((g) => g.count)) <= Math.min(...counts));
});

test('the sessions a revoke would end: a worker that does not answer is named, the others\' sessions listed', async () => {
  const row = (address: string, since: number) => ({ database: 'appdb', user: 'app', address, since });
  const w1 = new FakeWorker('worker 1', 11, (c) => (c.op === 'sessions' ? { sessions: [row('10.0.0.1', 20)] } : undefined));
  const w2 = new FakeWorker('worker 2', 12, (c) => (c.op === 'sessions' ? { sessions: [row('10.0.0.2', 10)] } : undefined));
  const s = await serve([w1, w2]);
  const all = await s.get('/dashboard/api/certificates/0f01/sessions');
  assert.equal(all.status, 200);
  assert.deepEqual(all.json, { sessions: [row('10.0.0.2', 10), row('10.0.0.1', 20)] });
  assert.deepEqual(w1.calls.at(-1), { op: 'sessions', serial: '0f01' });
  w2.silent = new Set(['sessions']);
  const part = await s.get('/dashboard/api/certificates/0f01/sessions');
  assert.equal(part.status, 200);
  assert.deepEqual(part.json, { sessions: [row('10.0.0.1', 20)], problems: ['worker 2: no answer within 5000 ms'] });
});
