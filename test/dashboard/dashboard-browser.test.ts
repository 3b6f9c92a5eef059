/**
 * The dashboard in a real browser: Debian's headless Chromium (puppeteer-core) presenting an admin
 * client certificate from its NSS database to the admin HTTPS listener (mutual TLS), against a
 * gateway with a real PostgreSQL. It reads the inventory, filters it, opens the revoke dialog
 * (which lists the live psql session of the certificate), revokes through the page, and
 * sees that session end and the row turn revoked. A certificate whose CN is not in
 * admin.identities gets 403; a browser without a certificate gets no page at all (the handshake
 * is refused). The main views are written to docs/screenshots/ at 1280x800.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import pg from 'pg';
import { pino } from 'pino';
import type { Page } from 'puppeteer-core';
import { makePki, type ClientFiles, type Pki } from '../harness/cert-factory.js';
import { startGateway, type RunningGateway } from '../harness/gateway.js';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { conninfo, psql, type PsqlResult } from '../harness/psql.js';
import { APP_SETUP_SQL, clientTlsSection, nodeSsl, plainUpstream, waitFor } from '../gateway/helpers.js';
import { Admin } from '../../src/admin/admin.js';
import { issueClient } from '../../src/ca/index.js';
import type { Dashboard } from '../../src/admin/dashboard/handler.js';
import { launchWithCertificate, requireBrowserTools, type CertBrowser } from './browser.js';

/** The little of the DOM the functions run in the page use (the project compiles without lib "dom"). */
declare const document: {
  body: { dataset: Record<string, string | undefined>; innerText: string } | null;
  querySelector(selector: string): { getAttribute(name: string): string | null } | null;
  getElementById(id: string): { textContent: string | null } | null;
};

const SHOTS = join(new URL('../..', import.meta.url).pathname, 'docs', 'screenshots');

let pki: Pki;
let upstream: PgServer;
let gw: RunningGateway;
let admin: Admin;
let origin: string;
let ops: ClientFiles;
let bob: ClientFiles;
let app: ClientFiles;
let reporting: ClientFiles;
let mallory: ClientFiles;
const DAY = 86_400_000;
const adminLog: Record<string, unknown>[] = [];
const held: pg.Client[] = [];
/** app's live session, the one the test revokes: psql in the middle of a long query. */
let appPsql: Promise<PsqlResult>;

/** The dashboard admin.http.dashboard started (the listener is private to Admin). */
function dashboard(): Dashboard {
  // Admin keeps its listener private; the test reaches it to take trend samples at chosen times.
  const http = (admin as unknown as { http?: { dashboard?: Dashboard } }).http;
  assert.ok(http?.dashboard, 'the dashboard is on');
  return http.dashboard;
}

function client(c: ClientFiles): pg.Client {
  return new pg.Client({ host: '127.0.0.1', port: gw.port, user: c.name, database: 'appdb', ssl: { ...nodeSsl(c), servername: 'localhost' } });
}

before(async () => {
  requireBrowserTools();
  pki = await makePki();
  upstream = await startPostgres({ setupSql: `${APP_SETUP_SQL} CREATE ROLE reporting LOGIN;` });
  ops = await pki.client('ops-alice');
  bob = await pki.client('bob');
  app = await pki.client('app');
  reporting = await pki.client('reporting');
  // An inventory worth looking at: short lifetimes fall in the renewal window or near expiry,
  // one certificate is revoked, several environments.
  await pki.client('batch-import', { days: 3, environment: 'staging' });
  await pki.client('legacy-cron', { revoked: true });
  for (let i = 1; i <= 12; i++) await pki.client(`svc-${String(i).padStart(2, '0')}`, { environment: i % 3 === 0 ? 'staging' : 'production', days: 30 + i * 7 });
  mallory = await pki.client('mallory', { revoked: true });
  // In the renewal window: 80 of 90 days gone.
  await issueClient(pki.main.authority, { name: 'billing-worker', environment: 'production', outDir: join(pki.dir, 'clients', 'billing-worker'), notBefore: new Date(Date.now() - 80 * DAY), notAfter: new Date(Date.now() + 10 * DAY), allowDuplicate: true });

  gw = await startGateway({
    tls: clientTlsSection(pki),
    databases: { appdb: plainUpstream(upstream, 'appdb') },
    admin: {
      identities: ['ops-alice'],
      http: { host: '127.0.0.1', port: 0, tls: { cert: pki.server.certPath, key: pki.server.keyPath, ca: pki.main.caPath }, dashboard: { enabled: true } },
    },
  });
  const sink = new Writable({
    write(chunk: Buffer, _e, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l) adminLog.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  admin = Admin.attach(gw.gateway, { log: pino({ level: 'info', base: undefined }, sink), processMetrics: false });
  await admin.start();
  origin = `https://127.0.0.1:${admin.httpAddress!.port}`;

  // An hour's trend in 40 steps of 10 s ending now: real counters, read at chosen sample times.
  // The first reading adds a zero point (nothing happened since the dashboard's own first one).
  const d = dashboard();
  const t0 = Date.now() - 40 * 10_000;
  await d.sampleTrends(t0);

  // Live sessions: app's (the one the test revokes) and two of reporting's; refusals of mallory's
  // revoked certificate.
  appPsql = psql(conninfo(gw.port, { user: 'app', dbname: 'appdb', cert: app }), 'SELECT pg_sleep(120)', { timeoutMs: 150_000 });
  const appInPool = (): boolean => [...gw.gateway.pools.values()].some((p) => [...p.clients()].some((c) => c.info.identity?.cn === 'app'));
  await waitFor(appInPool, "app's psql session in its pool", 20_000);
  for (const c of [reporting, reporting]) {
    const cl = client(c);
    cl.on('error', () => undefined);
    await cl.connect();
    held.push(cl);
  }
  const refuse = async (): Promise<void> => {
    const refused = client(mallory);
    refused.on('error', () => undefined);
    await assert.rejects(refused.connect());
  };
  for (let i = 1; i <= 40; i++) {
    const n = 20 + Math.round(15 * (1 + Math.sin(i / 4))) * 4;
    await Promise.all(held.map(async (c) => {
      for (let q = 0; q < n; q++) await c.query('SELECT 1');
    }));
    if (i % 9 === 0) await refuse();
    await d.sampleTrends(t0 + i * 10_000);
  }
  mkdirSync(SHOTS, { recursive: true });
});

after(async () => {
  for (const c of held) await c.end().catch(() => undefined);
  await admin?.close();
  await gw?.stop();
  await upstream?.stop();
  pki?.cleanup();
});

async function open(page: Page, view: string): Promise<void> {
  await page.goto(`${origin}/dashboard/#${view}`, { waitUntil: 'domcontentloaded' });
  await page.waitForFunction((v) => document.body?.dataset.loaded === v, { timeout: 20_000 }, view);
}

/** The identities the certificates table shows now. */
function shownNames(page: Page): Promise<string[]> {
  return page.$$eval('#cert-rows tr[data-serial] .ident', (cells) => cells.map((c) => c.textContent ?? ''));
}

async function withBrowser(c: ClientFiles | undefined, fn: (b: CertBrowser) => Promise<void>): Promise<void> {
  const b = await launchWithCertificate({ caPath: pki.main.caPath, origin, client: c });
  const errors: string[] = [];
  b.page.on('pageerror', (e) => errors.push(String(e)));
  try {
    await fn(b);
    assert.deepEqual(errors, [], 'no script error on the page');
  } finally {
    await b.close();
  }
}

test('an admin certificate: inventory, filter, live, trends; revoke through the page ends the session', async () => {
  await withBrowser(ops, async ({ page }) => {
    const csp: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) csp.push(m.text());
    });
    await open(page, 'certs');
    assert.equal(await page.$eval('#operator', (e) => e.textContent), 'ops-alice');
    const names = await shownNames(page);
    for (const n of ['ops-alice', 'app', 'reporting', 'legacy-cron', 'batch-import']) assert.ok(names.includes(n), `${n} in ${names.join(',')}`);
    // Highlighting: the 3-day certificate is near expiry, legacy-cron is revoked with its reason.
    assert.equal(await page.$eval(`#cert-rows tr[data-serial] .ident::-p-text(batch-import)`, (e) => e.closest('tr')!.className), 'near');
    const legacy = await page.$eval(`#cert-rows tr[data-serial] .ident::-p-text(legacy-cron)`, (e) => ({ cls: e.closest('tr')!.className, text: e.closest('tr')!.textContent }));
    assert.equal(legacy.cls, 'revoked');
    assert.match(legacy.text ?? '', /keyCompromise/);
    await page.screenshot({ path: join(SHOTS, 'certificates.png') });

    // Sorting by identity, both ways.
    await page.click('#cert-table th[data-sort="name"] button');
    await page.waitForFunction(() => document.querySelector('#cert-table th[data-sort="name"]')!.getAttribute('aria-sort') === 'ascending');
    await waitFor(async () => {
      const n = await shownNames(page);
      return n.length > 1 && n.every((x, i) => i === 0 || n[i - 1]!.localeCompare(x) <= 0);
    }, 'the rows sorted by name', 15_000);

    // Filter: only reporting's certificate; then the status filter keeps only revoked rows.
    await page.type('#cert-q', 'reporting');
    await waitFor(async () => (await shownNames(page)).join() === 'reporting', 'the filter to leave reporting', 15_000);
    await page.$eval('#cert-q', (e) => {
      (e as unknown as { value: string }).value = '';
      e.dispatchEvent(new Event('input'));
    });
    await page.select('#cert-status', 'revoked');
    await waitFor(async () => {
      const n = await shownNames(page);
      return n.length === 2 && n.includes('legacy-cron') && n.includes('mallory');
    }, 'the revoked filter', 15_000);
    await page.select('#cert-status', 'all');

    // Live: pools, sessions per identity, the refusal of mallory's revoked certificate.
    await open(page, 'live');
    await page.waitForSelector('#pool-rows tr[data-database="appdb"]', { timeout: 15_000 });
    const groups = await page.$$eval('#sess-rows tr[data-identity]', (rows) => rows.map((r) => [r.getAttribute('data-identity'), r.querySelector('.num')!.textContent]));
    assert.deepEqual(Object.fromEntries(groups), { app: '1', reporting: '2' });
    assert.match(await page.$eval('#refusal-rows', (e) => e.textContent ?? ''), /mallory/);
    await page.screenshot({ path: join(SHOTS, 'live.png') });


    await open(page, 'trends');
    await page.waitForSelector('#chart-tps canvas', { timeout: 15_000 });
    assert.equal(await page.$$eval('.plot .uplot', (p) => p.length), 5, 'five uPlot charts');
    await page.screenshot({ path: join(SHOTS, 'trends.png') });

    // Revoke app's certificate through the page.
    await open(page, 'certs');
    await page.type('#cert-q', 'app');
    const row = `#cert-rows tr[data-serial="${app.serial}"]`;
    await page.waitForSelector(row, { timeout: 15_000 });
    await page.click(`${row} button`);
    await page.waitForSelector('#revoke-dialog[open]');
    await page.waitForFunction(() => /appdb/.test(document.getElementById('revoke-sessions')!.textContent ?? ''), { timeout: 15_000 });
    assert.equal(await page.$$eval('#revoke-sessions tr', (r) => r.length), 1, 'the one live session it will end');
    assert.match(await page.$eval('#revoke-confirm-text', (e) => e.textContent ?? ''), /ends 1 live session/);
    assert.equal(await page.$eval('#revoke-go', (b) => (b as unknown as { disabled: boolean }).disabled), true, 'Revoke waits for the confirmation');
    await page.select('#revoke-reason', 'keyCompromise');
    await page.screenshot({ path: join(SHOTS, 'revoke-dialog.png') });

    await page.click('#revoke-confirm');
    await page.click('#revoke-go');
    const psqlEnd = await Promise.race([
      appPsql,
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error("app's psql session did not end within 20 s of the revoke")), 20_000).unref()),
    ]);
    assert.notEqual(psqlEnd.code, 0, 'psql was cut off in the middle of its query');
    assert.match(psqlEnd.stderr, /revoked/i, psqlEnd.stderr);
    // The page says how many sessions the gateway ended (the revoke's answer, not the dialog's count).
    await page.waitForFunction(() => /1 live session ended/.test(document.getElementById('toast')?.textContent ?? ''), { timeout: 20_000 });
    await page.waitForFunction((sel) => document.querySelector(sel)?.getAttribute('data-status') === 'revoked', { timeout: 20_000 }, row);
    const text = await page.$eval(row, (e) => e.textContent ?? '');
    assert.match(text, /revoked/);
    assert.match(text, /keyCompromise/);
    assert.equal(await page.$eval(`${row} button`, (b) => (b as unknown as { disabled: boolean }).disabled), true);
    const audit = adminLog.filter((l) => l.event === 'dashboard_action');
    assert.ok(audit.some((l) => l.operator === 'ops-alice' && l.action === 'revoke' && l.target === app.serial && l.outcome === 'ok' && l.sessionsEnded === 1), JSON.stringify(audit));

    // A new connection with the revoked certificate is refused.
    const again = client(app);
    again.on('error', () => undefined);
    await assert.rejects(again.connect());

    // Pause and resume appdb from the pools table (each after a confirmation), once the
    // session-mode sessions are gone (PAUSE waits for the servers they hold).
    for (const c of held.splice(0)) await c.end();
    await open(page, 'live');
    await page.waitForSelector('#pool-rows tr[data-database="appdb"]', { timeout: 15_000 });
    const poolState = (): Promise<string[]> => page.$$eval('#pool-rows tr[data-database="appdb"] .badge', (b) => b.map((x) => x.textContent ?? ''));
    await page.click('#pool-rows tr[data-database="appdb"] button');
    await page.waitForSelector('#confirm-dialog[open]');
    await page.click('#confirm-ok');
    await waitFor(async () => (await poolState()).every((x) => x === 'paused'), 'appdb paused on the page', 15_000);
    assert.ok([...gw.gateway.pools.values()].filter((p) => p.database === 'appdb').every((p) => p.paused), 'the pools are paused');
    await page.click('#pool-rows tr[data-database="appdb"] button');
    await page.waitForSelector('#confirm-dialog[open]');
    await page.click('#confirm-ok');
    await waitFor(async () => (await poolState()).every((x) => x === 'running'), 'appdb resumed on the page', 15_000);
    // PAUSE answers once no server is in use (session mode: once the sessions ended), so the
    // audit lines may come in either order.
    const actions = (): string[] => adminLog.filter((l) => l.event === 'dashboard_action').map((l) => `${l.operator} ${l.action} ${l.target} ${l.outcome}`).sort();
    await waitFor(() => actions().filter((a) => !a.includes('revoke')).length === 2, 'two audit lines', 15_000);
    assert.deepEqual(actions().filter((a) => !a.includes('revoke')), ['ops-alice pause appdb ok', 'ops-alice resume appdb ok']);

    assert.deepEqual(csp, [], 'no Content-Security-Policy violation');
    // The page shows no secret: no key, no CSRF token.
    const html = await page.content();
    assert.doesNotMatch(html, /PRIVATE KEY/);
    const csrf = await page.evaluate(async () => ((await (await fetch('/dashboard/api/session')).json()) as { csrf: string }).csrf);
    assert.ok(csrf.length > 10);
    assert.ok(!html.includes(csrf), 'the CSRF token is not in the page');
  });
});

test('a certificate whose CN is not an admin identity gets 403 and no data', async () => {
  await withBrowser(bob, async ({ page }) => {
    const res = await page.goto(`${origin}/dashboard/`, { waitUntil: 'domcontentloaded' });
    assert.equal(res?.status(), 403);
    const body = (await page.evaluate(() => document.body?.innerText)) ?? '';
    assert.doesNotMatch(body, /ops-alice|reporting|svc-0/);
    const api = await page.evaluate(async () => (await fetch('/dashboard/api/certificates')).status);
    assert.equal(api, 403);
  });
  assert.ok(adminLog.some((l) => l.event === 'dashboard_refused' && l.cn === 'bob'));
});

test('a browser without a client certificate gets no page', async () => {
  await withBrowser(undefined, async ({ page }) => {
    // The listener requires a certificate: the handshake fails (Chromium reports a net:: error),
    // or, should it ever answer, it is not a 2xx.
    let status: number | undefined;
    let error = '';
    try {
      status = (await page.goto(`${origin}/dashboard/`, { waitUntil: 'domcontentloaded' }))?.status();
    } catch (err) {
      error = String(err);
    }
    assert.ok(error !== '' ? /net::ERR_/.test(error) : status !== undefined && status >= 400, `status ${status}, ${error}`);
    const body = await page.evaluate(() => document.body?.innerText ?? '').catch(() => '');
    assert.doesNotMatch(body, /ops-alice|reporting|svc-0/);
  });
});
