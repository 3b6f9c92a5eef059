/**
 * The dashboard watched without a browser: the requests assets/dashboard/app.js makes, in its
 * order and at its intervals, over one keep-alive HTTPS connection with the admin certificate.
 * Loading the page fetches index.html, the four assets and /api/session once; then the shown view's
 * endpoint is asked, and asked again INTERVAL[view] after each answer (app.js schedules the next
 * refresh when the last one ended). A switch of view (--dashboard-view cycle) refreshes at once, as
 * app.js's showView does. What it does not do is render: the gateway's side is the same, the
 * watcher's own CPU is much smaller than a browser's.
 */
import { request, Agent } from 'node:https';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DashboardOptions } from '../options.js';
import { appRefresh, viewAt, type ViewName, type Watcher, type WatcherTarget, type WatchStats } from './watcher.js';

const STATIC = ['/dashboard/', '/dashboard/assets/app.js', '/dashboard/assets/app.css', '/dashboard/assets/uplot.iife.min.js', '/dashboard/assets/uplot.min.css'];

function endpoint(view: ViewName, page: number): string {
  if (view === 'certs') return `/dashboard/api/certificates?${new URLSearchParams({ offset: '0', limit: String(page), sort: 'expires', dir: 'asc', status: 'all' })}`;
  return `/dashboard/api/${view}`;
}

export async function startPollerWatcher(o: DashboardOptions, t: WatcherTarget): Promise<Watcher> {
  const refresh = appRefresh(t.pgmoatRoot);
  const url = new URL(t.origin);
  const agent = new Agent({
    keepAlive: true,
    maxSockets: 1,
    ca: readFileSync(t.caPath),
    cert: readFileSync(t.admin.certPath),
    key: readFileSync(t.admin.keyPath),
    servername: 'localhost',
  });
  const get = (path: string): Promise<number> =>
    new Promise((resolve, reject) => {
      const req = request({ host: url.hostname, port: url.port, path, agent, headers: { Accept: path.includes('/api/') ? 'application/json' : '*/*', 'Cache-Control': 'no-store' } }, (res) => {
        res.resume(); // the page parses the JSON; the gateway's work is done once it is sent
        res.once('end', () => resolve(res.statusCode ?? 0));
        res.once('error', reject);
      });
      req.once('error', reject);
      req.end();
    });
  const stats: WatchStats = { requests: 0, errors: 0, cpuMs: undefined, ms: 0 };
  const ask = async (path: string, count: boolean): Promise<void> => {
    try {
      const status = await get(path);
      if (count) stats.requests++;
      if (status >= 300) {
        stats.errors++;
        stats.firstError ??= `${status} ${path}`;
      }
    } catch (err) {
      stats.errors++;
      stats.firstError ??= `${(err as Error).message} ${path}`;
    }
  };
  // Loading the page: not counted (the browser watcher counts only after the page loaded, too).
  for (const p of STATIC) await ask(p, false);
  await ask('/dashboard/api/session', false);
  if (stats.errors > 0) {
    agent.destroy();
    throw new Error(`the dashboard did not load for the poller: ${stats.firstError}`);
  }
  const started = Date.now();
  const cpuBefore = process.cpuUsage();
  let stopped = false;
  let wake: (() => void) | undefined;
  const loop = (async () => {
    while (!stopped) {
      const view = viewAt(o, Date.now() - started);
      await ask(endpoint(view, refresh.page), true);
      // Wait INTERVAL[view] from the end of the answer, or less when the view changes meanwhile.
      const until = Date.now() + refresh.interval[view];
      while (!stopped && Date.now() < until && viewAt(o, Date.now() - started) === view) {
        await Promise.race([sleep(Math.min(250, until - Date.now())), new Promise<void>((r) => (wake = r))]);
      }
    }
  })();
  return {
    async stop() {
      stopped = true;
      wake?.();
      await loop;
      stats.ms = Date.now() - started;
      const cpu = process.cpuUsage(cpuBefore);
      stats.cpuMs = (cpu.user + cpu.system) / 1000;
      agent.destroy();
      return stats;
    },
  };
}
