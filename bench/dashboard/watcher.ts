/**
 * Someone watching the dashboard during the "watched" cell: the page open on one view (or cycling
 * through them), refreshing as assets/dashboard/app.js does. Two kinds: a real headless Chromium
 * (browser-watcher.ts) and a poller that makes app.js's requests at app.js's intervals without a
 * browser (poller-watcher.ts). Each reports what it asked of the gateway and what it cost itself:
 * on the benchmark's 2 cores the watcher's own CPU is taken from pgbench, PostgreSQL and the
 * gateway, which an operator's browser on a laptop would not be.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClientFiles } from '../../test/harness/cert-factory.js';
import type { DashboardOptions } from '../options.js';

export type ViewName = 'certs' | 'live' | 'trends';

export interface WatchStats {
  /** /dashboard/api requests answered while watching (the warm-up run included). */
  requests: number;
  /** Of those, answers other than 2xx, and requests that failed. */
  errors: number;
  firstError?: string;
  /** CPU time (user + system) of the watcher itself while watching: Chromium's processes, or the benchmark process for the poller. */
  cpuMs: number | undefined;
  /** How long it watched (ms). */
  ms: number;
}

export interface Watcher {
  /** Stops watching (closes the browser) and tells what it did. */
  stop(): Promise<WatchStats>;
}

export interface WatcherTarget {
  /** https://127.0.0.1:PORT of the admin listener. */
  origin: string;
  /** The CA that signed the admin listener's certificate. */
  caPath: string;
  /** A certificate whose CN is in admin.identities. */
  admin: ClientFiles;
  /** The pgmoat build's package root: its assets/dashboard/app.js sets the refresh intervals. */
  pgmoatRoot: string;
}

/** What app.js refreshes and how often: its INTERVAL (ms per view) and PAGE (certificate rows per request). */
export interface AppRefresh {
  interval: Record<ViewName, number>;
  page: number;
}

const APP_JS_DEFAULTS: AppRefresh = { interval: { certs: 15_000, live: 5_000, trends: 10_000 }, page: 50 };

/**
 * Reads INTERVAL and PAGE from the build's app.js, so that the poller follows the page when those
 * change; the defaults (app.js of session 10) when the file or the constants are not there.
 */
export function appRefresh(pgmoatRoot: string): AppRefresh & { source: string } {
  let text: string;
  const file = join(pgmoatRoot, 'assets/dashboard/app.js');
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return { ...APP_JS_DEFAULTS, source: `defaults (no ${file})` };
  }
  const num = (s: string | undefined): number | undefined => (s === undefined ? undefined : Number(s.replace(/_/g, '')));
  const block = /const INTERVAL\s*=\s*\{([^}]*)\}/.exec(text)?.[1] ?? '';
  const ms = (view: ViewName): number | undefined => num(new RegExp(`${view}\\s*:\\s*([\\d_]+)`).exec(block)?.[1]);
  const page = num(/const PAGE\s*=\s*([\d_]+)/.exec(text)?.[1]);
  const interval = { certs: ms('certs'), live: ms('live'), trends: ms('trends') };
  if (interval.certs && interval.live && interval.trends && page) return { interval: { certs: interval.certs, live: interval.live, trends: interval.trends }, page, source: file };
  return { ...APP_JS_DEFAULTS, source: `defaults (INTERVAL or PAGE not found in ${file})` };
}

/** The view shown `elapsedMs` after the watcher started: the one asked for, or with `cycle` certs → live → trends. */
export function viewAt(o: Pick<DashboardOptions, 'view' | 'cycleSeconds'>, elapsedMs: number): ViewName {
  if (o.view !== 'cycle') return o.view;
  const order: ViewName[] = ['certs', 'live', 'trends'];
  return order[Math.floor(elapsedMs / (o.cycleSeconds * 1000)) % order.length]!;
}

export async function startWatcher(o: DashboardOptions, target: WatcherTarget): Promise<Watcher> {
  // Loaded only when asked for: puppeteer-core is a development dependency.
  if (o.watcher === 'browser') return (await import('./browser-watcher.js')).startBrowserWatcher(o, target);
  return (await import('./poller-watcher.js')).startPollerWatcher(o, target);
}
