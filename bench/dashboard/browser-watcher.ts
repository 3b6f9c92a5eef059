/**
 * The dashboard watched by Debian's headless Chromium through puppeteer-core, presenting the admin
 * certificate from its NSS database (test/dashboard/browser.ts, the browser tests' launcher): the
 * page runs its own app.js, so the requests, their timing and the rendering are a real page's.
 */
import type { HTTPResponse } from 'puppeteer-core';
import { launchWithCertificate } from '../../test/dashboard/browser.js';
import type { DashboardOptions } from '../options.js';
import { processTree } from '../targets/process-stats.js';
import { cpuMsTree } from './cpu.js';
import { viewAt, type Watcher, type WatcherTarget, type WatchStats } from './watcher.js';

export async function startBrowserWatcher(o: DashboardOptions, t: WatcherTarget): Promise<Watcher> {
  const b = await launchWithCertificate({ caPath: t.caPath, origin: t.origin, client: t.admin });
  const stats: WatchStats = { requests: 0, errors: 0, cpuMs: undefined, ms: 0 };
  let counting = false;
  const fail = (what: string): void => {
    stats.errors++;
    stats.firstError ??= what;
  };
  b.page.on('response', (r: HTTPResponse) => {
    if (!counting || !r.url().includes('/dashboard/api/')) return;
    stats.requests++;
    if (r.status() >= 300) fail(`${r.status()} ${r.url()}`);
  });
  b.page.on('requestfailed', (r) => {
    if (counting && r.url().includes('/dashboard/api/')) fail(`${r.failure()?.errorText ?? 'failed'} ${r.url()}`);
  });
  b.page.on('pageerror', (e) => fail(`page error: ${String(e)}`));
  const pid = b.browser.process()?.pid;
  let timer: NodeJS.Timeout | undefined;
  try {
    const first = viewAt(o, 0);
    await b.page.goto(`${t.origin}/dashboard/#${first}`, { waitUntil: 'domcontentloaded' });
    // The page marks the view it last loaded (app.js refreshNow); the project compiles without lib "dom", hence a string.
    await b.page.waitForFunction(`document.body && document.body.dataset.loaded === ${JSON.stringify(first)}`, { timeout: 60_000 });
  } catch (err) {
    await b.close();
    throw new Error(`the dashboard did not load in Chromium: ${(err as Error).message}`);
  }
  const started = Date.now();
  const cpuBefore = pid === undefined ? undefined : cpuMsTree(processTree(pid));
  counting = true;
  if (o.view === 'cycle') {
    let shown = viewAt(o, 0);
    // A tab click, as a person switching views: app.js follows the hash (showView, then its refresh timer).
    timer = setInterval(() => {
      const next = viewAt(o, Date.now() - started);
      if (next === shown) return;
      shown = next;
      b.page.evaluate(`location.hash = ${JSON.stringify(`#${next}`)}`).catch((err: unknown) => fail(`switching to ${next}: ${String(err)}`));
    }, 250);
  }
  return {
    async stop() {
      clearInterval(timer);
      counting = false;
      stats.ms = Date.now() - started;
      const cpuAfter = pid === undefined ? undefined : cpuMsTree(processTree(pid));
      stats.cpuMs = cpuBefore !== undefined && cpuAfter !== undefined ? cpuAfter - cpuBefore : undefined;
      await b.close();
      return stats;
    },
  };
}
