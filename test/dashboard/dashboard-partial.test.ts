/**
 * The page says when an answer is partial. Under `serve --workers N` the primary names the workers
 * that did not answer (`problems` on the certificates, the live view and the sessions a revoke
 * would end; `incomplete` points in the trends): the page shows a visible note above those
 * figures, never partial numbers silently. The real handler over the primary's real merge
 * (cluster/dashboard-source.ts) with stand-in workers, one of them silent, on a plain HTTP
 * listener with a bearer token; Debian's headless Chromium reads it. No CSP violation on the way.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import puppeteer from 'puppeteer-core';
import { addActivity, pageOfCertificates } from '../../src/admin/dashboard/certificates-view.js';
import { Dashboard } from '../../src/admin/dashboard/handler.js';
import type { CertificateActivity, CertificateRow, LiveView } from '../../src/admin/dashboard/types.js';
import { clusterDashboard, type DashboardWorker, type WorkerAnswer } from '../../src/cluster/dashboard-source.js';
import type { DashboardCall } from '../../src/cluster/messages.js';
import { CHROMIUM, requireBrowserTools } from './browser.js';

/** The little of the DOM the functions run in the page use (the project compiles without lib "dom"). */
declare const document: {
  body: { dataset: Record<string, string | undefined> } | null;
  getElementById(id: string): { textContent: string | null; hidden: boolean } | null;
};

const TOKEN = 'partial-test-token';
const dir = mkdtempSync(join(tmpdir(), 'pgmoat-dash-partial-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function cert(serial: string, name: string, liveSessions = 0): CertificateRow {
  return { serial, name, environment: 'production', kind: 'client', sans: [], issued: '2026-11-01T00:00:00.000Z', notBefore: '2026-11-01T00:00:00.000Z', notAfter: '2027-06-01T00:00:00.000Z', status: 'valid', liveSessions, renewalWindow: false, nearExpiry: false };
}

/** A stand-in worker; the ops in `silent` get what the primary reports when a worker's deadline passes. */
class FakeWorker implements DashboardWorker {
  running = true;
  silent = new Set<string>();
  constructor(
    readonly name: string,
    readonly pid: number,
    private readonly rows: CertificateRow[],
    private readonly transactions: () => number,
  ) {}
  async ask(call: DashboardCall, timeoutMs: number): Promise<WorkerAnswer> {
    if (this.silent.has(call.op)) return { ok: false, error: `no answer within ${timeoutMs} ms` };
    switch (call.op) {
      case 'activity': {
        const a: CertificateActivity = { live: {}, lastSeen: {} };
        for (const r of this.rows) if (r.liveSessions > 0) a.live[r.serial] = r.liveSessions;
        return { ok: true, value: a };
      }
      case 'certificate-page': {
        const mine = this.rows.map((r) => ({ ...r }));
        addActivity(mine, call.others);
        return { ok: true, value: pageOfCertificates(mine, call.query) };
      }
      case 'live': {
        const v: LiveView = { pools: [], sessions: [{ identity: 'alice', database: 'appdb', count: 2 }], refusals: [], crl: { revokedCount: 0 } };
        return { ok: true, value: v };
      }
      case 'sessions':
        return { ok: true, value: { sessions: [{ database: 'appdb', user: 'app', address: '10.0.0.1', since: Date.now() - 60_000 }] } };
      case 'counters':
        return { ok: true, value: { transactions: this.transactions(), handshakes: 0, refusals: {}, waitP99Ms: 0, renewals: 0 } };
      default:
        return { ok: true, value: {} };
    }
  }
}

test('problems and incomplete trends are shown on the page', async () => {
  requireBrowserTools();
  writeFileSync(join(dir, 'token'), `${TOKEN}\n`, { mode: 0o600 });
  let n = 0;
  const w1 = new FakeWorker('worker 1', 11, [cert('0a01', 'alice', 2), cert('0a02', 'bob')], () => (n += 100));
  const w2 = new FakeWorker('worker 2', 12, [cert('0a01', 'alice'), cert('0a02', 'bob')], () => 50);
  const source = clusterDashboard({ workers: () => [w1, w2], own: () => [], reloadPrimary: async () => undefined });
  const dashboard = new Dashboard({ enabled: true, token_file: join(dir, 'token') }, source, pino({ level: 'silent' }));
  dashboard.close();
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    dashboard.handle(req, res, url.pathname, url.searchParams).catch(() => {
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  // Trends: the handler took its first reading (the base) as it started (done by now); then a complete
  // reading, one without worker 2, one complete again.
  const t0 = Date.now();
  await dashboard.sampleTrends(t0 + 10_000);
  w2.silent = new Set(['counters']);
  await dashboard.sampleTrends(t0 + 20_000);
  w2.silent = new Set(['activity', 'live', 'sessions']);
  await dashboard.sampleTrends(t0 + 30_000);
  const api = (await (await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/dashboard/api/trends`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()) as { series: { t: number[] }; incomplete: number[] };
  assert.deepEqual([api.series.t.length, api.incomplete], [3, [Math.round((t0 + 20_000) / 1000)]], 'the API marks the reading without worker 2');

  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const home = mkdtempSync(join(tmpdir(), 'pgmoat-chromium-'));
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    userDataDir: join(home, 'profile'),
    args: ['--no-sandbox', '--headless=new', '--no-first-run', '--disable-extensions', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    env: { ...process.env, HOME: home },
    defaultViewport: { width: 1280, height: 800 },
    protocolTimeout: 60_000,
  });
  try {
    const page = await browser.newPage();
    await page.setExtraHTTPHeaders({ authorization: `Bearer ${TOKEN}` });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) errors.push(m.text());
    });
    const open = async (view: string): Promise<void> => {
      await page.goto(`${origin}/dashboard/#${view}`, { waitUntil: 'domcontentloaded' });
      await page.waitForFunction((v) => document.body?.dataset.loaded === v, { timeout: 20_000 }, view);
    };
    const note = (id: string) => page.$eval(`#${id}`, (e) => ({ hidden: (e as unknown as { hidden: boolean }).hidden, text: e.textContent ?? '' }));

    await open('certs');
    const certs = await note('cert-partial');
    assert.equal(certs.hidden, false, 'the certificates view shows its note');
    assert.match(certs.text, /Incomplete live sessions and last-seen times: no answer from one worker \(worker 2: no answer within 5000 ms\)/);
    // The revoke dialog lists worker 1's session and says that worker 2's are missing.
    await page.click('#cert-rows tr[data-serial="0a01"] button');
    await page.waitForSelector('#revoke-dialog[open]');
    await page.waitForFunction(() => /10\.0\.0\.1/.test(document.getElementById('revoke-sessions')?.textContent ?? ''), { timeout: 15_000 });
    const revoke = await note('revoke-partial');
    assert.equal(revoke.hidden, false, 'the revoke dialog shows its note');
    assert.match(revoke.text, /Incomplete list of sessions: no answer from one worker \(worker 2: no answer within 5000 ms\)/);
    await page.click('#revoke-cancel');

    await open('live');
    const live = await note('live-partial');
    assert.equal(live.hidden, false, 'the live view shows its note');
    assert.match(live.text, /Incomplete pools, sessions and refusals: no answer from one worker \(worker 2/);

    await open('trends');
    const trends = await note('trend-partial');
    assert.equal(trends.hidden, false, 'the trends view shows its note');
    assert.match(trends.text, /Incomplete: 1 of 3 points miss a worker's share/);

    // Every worker answers again: the notes go.
    w2.silent.clear();
    await open('certs');
    assert.equal((await note('cert-partial')).hidden, true);
    await open('live');
    assert.equal((await note('live-partial')).hidden, true);
    assert.deepEqual(errors, [], 'no script error, no CSP violation');
  } finally {
    await browser.close().catch(() => undefined);
    server.close();
    rmSync(home, { recursive: true, force: true });
  }
});
