/**
 * The dashboard at the scale issue 18 names: 10,000 certificates in the CA inventory and 5,000
 * live client sessions over mutual TLS (50 identities x 5 databases x 20, transaction pooling,
 * so 250 identity x database groups on a few server connections). The gateway runs as its own
 * `pgmoat serve` process (so that its RSS is its own), the sessions are held by another child
 * (session-holder.ts), both with a raised open-files limit.
 *
 * It checks shapes, never times: one page of rows from the API and in the DOM (not 10,000),
 * totals, the sessions summed to 5,000, the page's cap on session groups and its note of how
 * many more there are. Times, sizes, long tasks, RSS and the data path's round trips with and
 * without the dashboard being read are printed as diagnostics ('# ' lines); on this shared
 * machine they are upper bounds.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { MAX_SESSION_GROUPS } from '../../src/admin/dashboard/live-view.js';
import { readInventory } from '../../src/ca/index.js';
import { normalizeSerial } from '../../src/util/serial.js';
import { makePki, type ClientFiles, type Pki } from '../harness/cert-factory.js';
import { freePort } from '../harness/free-port.js';
import { startGatewayProcess, withOpenFiles, writeConfig } from '../harness/gateway.js';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { clientTlsSection, plainUpstream, waitFor } from '../gateway/helpers.js';
import { call } from '../admin/dashboard-helpers.js';
import { launchWithCertificate, requireBrowserTools } from './browser.js';
import { addScaleInventory, type ScaleInventory } from './scale-inventory.js';
import type { HolderPlan } from './session-holder.js';

/** The little of the DOM the functions run in the page use (the project compiles without lib "dom"). */
declare const document: {
  body: { dataset: Record<string, string | undefined> } | null;
  querySelectorAll(selector: string): { length: number };
  getElementsByTagName(name: string): { length: number };
  getElementById(id: string): { textContent: string | null } | null;
};
declare const performance: { now(): number };
declare const window: { __longTasks: { start: number; duration: number }[] };
declare class PerformanceObserver {
  constructor(cb: (list: { getEntries(): { startTime: number; duration: number }[] }) => void);
  observe(o: { type: string; buffered?: boolean }): void;
}

const CERTIFICATES = 10_000;
const IDENTITIES = 50;
const DATABASES = ['db0', 'db1', 'db2', 'db3', 'db4'];
const PER_GROUP = 20;
const SESSIONS = IDENTITIES * DATABASES.length * PER_GROUP;
const GROUPS = IDENTITIES * DATABASES.length;
/** What the page shows at most (assets/dashboard/app.js): rows per certificates page, session groups. */
const PAGE_ROWS = 50;
const SESSION_ROWS_SHOWN = 200;
const OPEN_FILES = 8192;

let pki: Pki;
let upstream: PgServer;
let ops: ClientFiles;
let inv: ScaleInventory;
let dir: string;
let gateway: Awaited<ReturnType<typeof startGatewayProcess>> | undefined;
let holder: ChildProcess | undefined;
let holderLines: Record<string, unknown>[] = [];
let adminPort: number;
let gwPort: number;

const diag = (line: string): void => console.log(`# ${line}`);
const kb = (n: number): string => `${(n / 1024).toFixed(1)} KiB`;

function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

/** The hard open-files limit a child may raise its soft limit to. */
function hardOpenFiles(): number {
  const v = execFileSync('sh', ['-c', 'ulimit -Hn'], { encoding: 'utf8' }).trim();
  return v === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(v);
}

async function api(path: string): Promise<{ ms: number; bytes: number; json: unknown }> {
  const t = performance.now();
  const a = await call(adminPort, pki.main.caPem, `/dashboard/api${path}`, { client: ops });
  const ms = performance.now() - t;
  assert.equal(a.status, 200, `${path}: ${a.body.slice(0, 300)}`);
  return { ms, bytes: Buffer.byteLength(a.body), json: a.json };
}

/** The next line of the holder matching `pick`. */
async function holderSays(pick: (l: Record<string, unknown>) => boolean, what: string, timeoutMs: number): Promise<Record<string, unknown>> {
  let found: Record<string, unknown> | undefined;
  await waitFor(() => {
    const i = holderLines.findIndex(pick);
    if (i < 0) return holder?.exitCode !== null && holder?.exitCode !== undefined ? Promise.reject(new Error(`the session holder exited: ${JSON.stringify(holderLines)}`)) : false;
    found = holderLines[i];
    holderLines.splice(0, i + 1);
    return true;
  }, what, timeoutMs);
  return found!;
}

/** Round trips of SELECT 1 through the gateway on one held session (transaction pooling: each takes a server). */
async function pings(n: number): Promise<number[]> {
  holder!.stdin!.write(`ping ${n}\n`);
  return (await holderSays((l) => 'pings' in l, 'the pings', 60_000)).pings as number[];
}

function summary(ms: number[]): string {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number): string => (s[Math.min(s.length - 1, Math.ceil(q * s.length) - 1)] ?? 0).toFixed(2);
  return `p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${at(1)} ms (${s.length} round trips)`;
}

before(async () => {
  requireBrowserTools();
  const hard = hardOpenFiles();
  if (hard < OPEN_FILES) throw new Error(`the scale test needs ${OPEN_FILES} open files per process (ulimit -Hn is ${hard}): raise the hard limit`);
  const setupStarted = performance.now();
  pki = await makePki();
  ops = await pki.client('ops-alice');

  // 10,000 certificates in all: the inventory's and the configuration's own (the CA certificate).
  const inventorySerials = new Set(readInventory(pki.main.dir).certificates.map((e) => e.serial));
  const configOnly = [pki.main.caPem, pki.server.certPem].filter((pem) => !inventorySerials.has(normalizeSerial(new X509Certificate(pem).serialNumber))).length;
  let t = performance.now();
  inv = await addScaleInventory(pki.main.authority, CERTIFICATES - configOnly - inventorySerials.size, IDENTITIES);
  diag(`inventory: ${CERTIFICATES} certificates (${inv.revoked} revoked, ${inv.nearExpiry} near expiry, ${inv.expired} expired) made in ${(performance.now() - t).toFixed(0)} ms; inventory.json ${kb(readFileSync(join(pki.main.dir, 'inventory.json')).length)}`);

  upstream = await startPostgres({ setupSql: `CREATE ROLE app LOGIN; ${DATABASES.map((d) => `CREATE DATABASE ${d} OWNER app;`).join(' ')}` });
  dir = mkdtempSync(join(tmpdir(), 'pgmoat-scale-'));
  gwPort = await freePort();
  adminPort = await freePort();
  const config = {
    listen: { host: '127.0.0.1', port: gwPort },
    log: { level: 'info' },
    tls: clientTlsSection(pki),
    max_client_conn: SESSIONS + 500,
    pool_mode: 'transaction',
    default_pool_size: 2,
    // Every load-NNNN identity may use role app (CN = role would need 50 roles).
    ident_maps: { load: [{ cn: '/^load-[0-9]+$/', role: 'app' }] },
    rules: [{ type: 'tls', method: 'cert', map: 'load' }],
    databases: Object.fromEntries(DATABASES.map((d) => [d, plainUpstream(upstream, d)])),
    admin: {
      identities: ['ops-alice'],
      http: { host: '127.0.0.1', port: adminPort, tls: { cert: pki.server.certPath, key: pki.server.keyPath, ca: pki.main.caPath }, dashboard: { enabled: true } },
    },
  };
  const configPath = writeConfig(dir, config);
  gateway = await startGatewayProcess(configPath, 'tsx', { openFiles: OPEN_FILES });
  const gwPid = gateway.proc.pid!;
  const rssBefore = rssOf(gwPid);

  // 5,000 sessions, 200 handshakes in flight at a time.
  const plan: HolderPlan = {
    port: gwPort,
    caPem: pki.main.caPem,
    keyPem: inv.keyPem,
    user: 'app',
    identities: inv.identities.map((i) => ({ name: i.name, certPem: i.certPem })),
    databases: DATABASES,
    perGroup: PER_GROUP,
    concurrency: 200,
  };
  const planPath = join(dir, 'plan.json');
  writeFileSync(planPath, JSON.stringify(plan), { mode: 0o600 });
  const cmd = withOpenFiles(OPEN_FILES, process.execPath, ['--import', 'tsx', new URL('./session-holder.ts', import.meta.url).pathname, planPath]);
  holder = spawn(cmd.file, cmd.args, { stdio: ['pipe', 'pipe', 'inherit'] });
  holderLines = [];
  createInterface({ input: holder.stdout! }).on('line', (l) => holderLines.push(JSON.parse(l) as Record<string, unknown>));
  t = performance.now();
  const ready = await holderSays((l) => 'ready' in l, `${SESSIONS} sessions`, 150_000);
  assert.deepEqual({ ready: ready.ready, failed: ready.failed }, { ready: SESSIONS, failed: 0 }, JSON.stringify(ready.errors));
  diag(`${SESSIONS} mTLS sessions opened in ${(performance.now() - t).toFixed(0)} ms (200 at a time)`);
  await sleep(1000);
  const rssIdle = rssOf(gwPid);
  diag(`gateway RSS: ${kb(rssBefore)} before the sessions, ${kb(rssIdle)} with ${SESSIONS} idle sessions (${((rssIdle - rssBefore) / SESSIONS / 1024).toFixed(1)} KiB per session), dashboard not read yet`);
  diag(`set-up took ${(performance.now() - setupStarted).toFixed(0)} ms`);
});

after(async () => {
  if (holder && holder.exitCode === null) {
    const exited = new Promise((resolve) => holder!.once('exit', resolve));
    holder.stdin!.end();
    await Promise.race([exited, sleep(10_000)]);
    if (holder.exitCode === null) holder.kill('SIGKILL');
  }
  await gateway?.stop();
  await upstream?.stop();
  pki?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface CertPage {
  total: number;
  rows: { serial: string; name: string; environment: string; status: string; reason?: string; sans: string[]; liveSessions: number; nearExpiry: boolean }[];
}
interface Live {
  pools: { database: string; activeServers: number; idleServers: number }[];
  sessions: { identity: string; database: string; count: number }[];
  sessionGroups: number;
  sessionCount: number;
}

test('the API at 10,000 certificates and 5,000 sessions: one page at a time, totals, sessions by group', async () => {
  const cold = await api('/certificates?offset=0&limit=50');
  diag(`GET /certificates (first read of the inventory): ${cold.ms.toFixed(0)} ms, ${kb(cold.bytes)}`);
  const first = cold.json as CertPage;
  assert.equal(first.total, CERTIFICATES);
  assert.equal(first.rows.length, 50);

  const get = async (path: string): Promise<unknown> => {
    const r = await api(path);
    diag(`GET /dashboard/api${path}: ${r.ms.toFixed(0)} ms, ${kb(r.bytes)}`);
    return r.json;
  };
  const p1 = (await get('/certificates?offset=0&limit=100&sort=expires&dir=asc')) as CertPage;
  const p2 = (await get('/certificates?offset=100&limit=100&sort=expires&dir=asc')) as CertPage;
  assert.equal(p1.rows.length, 100);
  assert.equal(p2.rows.length, 100);
  assert.equal(new Set([...p1.rows, ...p2.rows].map((r) => r.serial)).size, 200, 'pages do not overlap');
  const last = (await get(`/certificates?offset=${CERTIFICATES - 30}&limit=100&sort=expires&dir=asc`)) as CertPage;
  assert.equal(last.rows.length, 30, 'the last page holds the rest');
  const biggest = (await get('/certificates?offset=0&limit=100000')) as CertPage;
  assert.equal(biggest.rows.length, 500, 'a page is capped at 500 rows');

  const byName = (await get('/certificates?offset=0&limit=100&sort=name&dir=desc')) as CertPage;
  const names = byName.rows.map((r) => r.name);
  assert.deepEqual(names, [...names].sort((a, b) => b.localeCompare(a)));
  assert.equal(names[0], inv.lastName);

  const revoked = (await get('/certificates?offset=0&limit=100&status=revoked&sort=name')) as CertPage;
  assert.equal(revoked.total, inv.revoked);
  assert.ok(revoked.rows.every((r) => r.status === 'revoked' && typeof r.reason === 'string'));
  const staging = (await get('/certificates?offset=0&limit=100&q=staging')) as CertPage;
  assert.ok(staging.total >= 2000 && staging.rows.every((r) => r.environment === 'staging'), `staging: ${staging.total}`);
  const one = (await get(`/certificates?offset=0&limit=100&q=${inv.lastName}`)) as CertPage;
  assert.equal(one.total, 1);
  assert.deepEqual(one.rows[0]!.sans, [`URI:pgmoat://${one.rows[0]!.environment}/${inv.lastName}`]);

  // The session identities' rows count their live sessions.
  const loads = (await get('/certificates?offset=0&limit=100&q=load-&sort=name')) as CertPage;
  assert.equal(loads.total, IDENTITIES);
  assert.ok(loads.rows.every((r) => r.liveSessions === DATABASES.length * PER_GROUP), JSON.stringify(loads.rows.map((r) => r.liveSessions)));

  const live = (await get('/live')) as Live;
  assert.equal(live.sessions.reduce((n, s) => n + s.count, 0), SESSIONS, 'the sessions sum to 5,000');
  assert.equal(live.sessions.length, GROUPS, 'one group per identity and database (under the API\'s cap of MAX_SESSION_GROUPS)');
  assert.ok(GROUPS <= MAX_SESSION_GROUPS);
  assert.deepEqual([live.sessionGroups, live.sessionCount], [GROUPS, SESSIONS], 'the totals of every group');
  const servers = live.pools.reduce((n, p) => n + p.activeServers + p.idleServers, 0);
  assert.ok(servers <= DATABASES.length * 2, `${servers} server connections for ${SESSIONS} sessions`);

  const trends = (await get('/trends')) as { step: number; series: { t: number[] } };
  assert.equal(trends.step, 10);

  const sessionsOf = (await get(`/certificates/${inv.identities[0]!.serial}/sessions`)) as { sessions: { database: string }[] };
  assert.equal(sessionsOf.sessions.length, DATABASES.length * PER_GROUP);
});

test('the data path while the dashboard is read, and the RSS after', async () => {
  const gwPid = gateway!.proc.pid!;
  const quiet = await pings(300);
  diag(`SELECT 1 through the gateway, dashboard not read: ${summary(quiet)}`);
  // A reader that asks for certificate pages (sorted and filtered differently) and the live view
  // back to back, far more often than a page does (every 5-15 s).
  let reading = true;
  let reads = 0;
  const reader = (async () => {
    const paths = ['/certificates?offset=0&limit=50&sort=expires', '/live', '/certificates?offset=500&limit=50&sort=name&dir=desc', '/certificates?offset=0&limit=50&q=prod&status=valid', '/trends'];
    while (reading) {
      await api(paths[reads % paths.length]!);
      reads++;
    }
  })();
  const busy = await pings(300);
  reading = false;
  await reader;
  diag(`SELECT 1 through the gateway while the dashboard API is read back to back (${reads} reads): ${summary(busy)}`);
  await sleep(1000);
  diag(`gateway RSS with ${SESSIONS} idle sessions after the dashboard was read: ${kb(rssOf(gwPid))}`);
});

test('the page at scale: one page of rows in the DOM, the session groups capped with a note, long tasks recorded', async () => {
  const origin = `https://127.0.0.1:${adminPort}`;
  const b = await launchWithCertificate({ caPath: pki.main.caPath, origin, client: ops });
  const errors: string[] = [];
  b.page.on('pageerror', (e) => errors.push(String(e)));
  try {
    const { page } = b;
    await page.evaluateOnNewDocument(() => {
      window.__longTasks = [];
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) window.__longTasks.push({ start: e.startTime, duration: e.duration });
      }).observe({ type: 'longtask', buffered: true });
    });
    const range = (): Promise<string> => page.$eval('#cert-range', (e) => e.textContent ?? '');
    const rows = (): Promise<number> => page.$$eval('#cert-rows tr[data-serial]', (r) => r.length);
    const steps: string[] = [];
    const step = async (what: string, act: () => Promise<unknown>, until: () => Promise<boolean>): Promise<void> => {
      const t = performance.now();
      await act();
      await waitFor(until, what, 30_000);
      steps.push(`${what}: ${(performance.now() - t).toFixed(0)} ms`);
    };

    await page.goto(`${origin}/dashboard/#certs`, { waitUntil: 'domcontentloaded' });
    await page.waitForFunction(() => document.body?.dataset.loaded === 'certs' && document.querySelectorAll('#cert-rows tr[data-serial]').length > 0, { timeout: 30_000 });
    const shownAt = await page.evaluate(() => performance.now());
    assert.equal(await rows(), PAGE_ROWS, 'one page of rows in the DOM');
    assert.equal(await range(), `1–${PAGE_ROWS} of 10,000`);
    const nodes = await page.evaluate(() => document.getElementsByTagName('*').length);
    diag(`page: rows shown ${shownAt.toFixed(0)} ms after navigation started; ${nodes} DOM elements`);

    await step('next page', () => page.click('#cert-next'), async () => (await range()) === `${PAGE_ROWS + 1}–${2 * PAGE_ROWS} of 10,000`);
    await step('sort by name', () => page.click('#cert-table th[data-sort="name"] button'), async () => (await page.$$eval('#cert-rows tr[data-serial] .ident', (c) => c[0]?.textContent ?? '')) === 'load-0000');
    await step('filter "svc-098"', () => page.type('#cert-q', 'svc-098'), async () => (await range()) === `1–${PAGE_ROWS} of 100`);
    // svc-09800 to svc-09899: those the inventory revoked (addScaleInventory: i % 25 === 11).
    const revokedShown = Array.from({ length: 100 }, (_, k) => 9800 + k).filter((i) => i % 25 === 11).length;
    await step('status revoked', () => page.select('#cert-status', 'revoked'), async () => (await range()) === `1–${revokedShown} of ${revokedShown}`);
    assert.ok((await rows()) <= PAGE_ROWS);

    await step('live view', () => page.click('[role="tab"][data-view="live"]'), async () => (await page.$$eval('#sess-rows tr[data-identity]', (r) => r.length)) > 0);
    assert.equal(await page.$$eval('#sess-rows tr[data-identity]', (r) => r.length), SESSION_ROWS_SHOWN, 'the live view shows its cap of session groups');
    const sessSummary = await page.$eval('#sess-summary', (e) => e.textContent ?? '');
    assert.equal(sessSummary, `5,000 sessions in ${GROUPS} groups · showing the ${SESSION_ROWS_SHOWN} largest of ${GROUPS}`);
    await step('trends view', () => page.click('[role="tab"][data-view="trends"]'), async () => (await page.$$eval('.plot .uplot', (p) => p.length)) === 5);
    await step('back to certificates', () => page.click('[role="tab"][data-view="certs"]'), async () => (await page.evaluate(() => document.body?.dataset.loaded)) === 'certs');
    assert.ok((await rows()) <= PAGE_ROWS);

    const longTasks = await page.evaluate(() => window.__longTasks);
    const total = longTasks.reduce((n, l) => n + l.duration, 0);
    const longest = longTasks.reduce((m, l) => Math.max(m, l.duration), 0);
    for (const s of steps) diag(`page: ${s}`);
    diag(`page: ${longTasks.length} long tasks (over 50 ms), ${total.toFixed(0)} ms in all, the longest ${longest.toFixed(0)} ms; ${await page.evaluate(() => document.getElementsByTagName('*').length)} DOM elements at the end`);
    assert.deepEqual(errors, [], 'no script error on the page');
  } finally {
    await b.close();
  }
});
