/**
 * --dashboard: one more pgmoat process (one worker), configured as the main pgmoat column plus
 * admin.http with the dashboard on and a fleet-sized inventory (inventory.ts), measured as two
 * columns of the select-only scenario: "dashboard unwatched" (nobody has the page open; the
 * dashboard's own timers run, e.g. the trend sampler) and "dashboard watched" (the same process,
 * right after, with a watcher on the page from before the warm-up to the end of the measured runs).
 * Measuring both on one process keeps process-to-process spread out of the ratio.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Pki } from '../../test/harness/cert-factory.js';
import { freePort } from '../../test/harness/free-port.js';
import type { BenchOptions, DashboardOptions } from '../options.js';
import type { Cell } from '../report/model.js';
import type { BenchColumn } from '../scenarios/context.js';
import { deepMerge, packageRoot, startPgmoat } from '../targets/pgmoat.js';
import type { RunningPooler } from '../targets/pooler.js';
import { dashboardInventory } from './inventory.js';
import { startWatcher } from './watcher.js';

/** The admin identity the watcher logs in as (a CN in admin.identities). */
export const DASHBOARD_ADMIN = 'bench-admin';
export const DASHBOARD_UNWATCHED = 'pgmoat-dashboard';
export const DASHBOARD_WATCHED = 'pgmoat-dashboard-watched';
const ONLY = ['select'];
const ONLY_REASON = '--dashboard measures select-only only';

export function watchedLabel(d: DashboardOptions): string {
  return `pgmoat dashboard watched (${d.watcher}, ${d.view === 'cycle' ? `views cycling every ${d.cycleSeconds} s` : `${d.view} view`})`;
}

export async function dashboardColumns(
  opts: BenchOptions & { dashboard: DashboardOptions },
  pki: Pki,
  upstreamPort: number,
  mainJs: string,
  logDir: string,
  maxClientConn: number,
  progress: (line: string) => void,
  /** With --cpu-prof: the dashboard process's profile (both cells) goes here. */
  cpuProfDir?: string,
): Promise<BenchColumn[]> {
  const admin = await pki.client(DASHBOARD_ADMIN);
  const ca = await dashboardInventory(pki, opts.dashboard.certificates);
  progress(`dashboard: inventory of ${ca.certificates} certificates signed in ${(ca.ms / 1000).toFixed(1)} s (${ca.dir})`);
  const adminPort = await freePort();
  const dashboardConfig = {
    tls: { ca: ca.caPath, crl: ca.crlPath },
    admin: {
      identities: [DASHBOARD_ADMIN],
      http: { host: '127.0.0.1', port: adminPort, tls: { cert: pki.server.certPath, key: pki.server.keyPath, ca: pki.main.caPath }, dashboard: { enabled: true } },
    },
  };
  let pooler: RunningPooler;
  try {
    pooler = await startPgmoat({
      mainJs,
      pki,
      upstreamPort,
      poolSize: opts.poolSize,
      maxClientConn,
      workers: 1,
      logPath: join(logDir, `${DASHBOARD_UNWATCHED}.log`),
      cpuProfDir,
      extraConfig: deepMerge(opts.pgmoatConfig ?? {}, dashboardConfig),
    });
  } catch (err) {
    rmSync(ca.dir, { recursive: true, force: true });
    throw err;
  }
  // Both columns hold the one process: stopped once, with the inventory copy.
  let stopping: Promise<void> | undefined;
  const shared: RunningPooler = {
    label: pooler.label,
    port: pooler.port,
    logPath: pooler.logPath,
    pids: () => pooler.pids(),
    stop: () =>
      (stopping ??= pooler.stop().finally(() => rmSync(ca.dir, { recursive: true, force: true }))),
  };
  const target = { origin: `https://127.0.0.1:${adminPort}`, caPath: pki.main.caPath, admin, pgmoatRoot: packageRoot(mainJs) };
  const watched: BenchColumn = {
    id: DASHBOARD_WATCHED,
    label: watchedLabel(opts.dashboard),
    kind: 'pooler',
    pooler: shared,
    only: ONLY,
    onlyReason: ONLY_REASON,
    async around(run: () => Promise<Cell>): Promise<Cell> {
      const w = await startWatcher(opts.dashboard, target);
      let cell: Cell | undefined;
      try {
        cell = await run();
      } finally {
        const stats = await w.stop();
        if (cell?.status === 'ok') {
          cell.dashboard = stats;
          // A page that got errors did not cost the gateway what a working one does. No request at
          // all is possible in a run shorter than the view's interval (the page had loaded: the
          // watcher waits for that), and the summary shows the count.
          if (stats.errors > 0) {
            cell = { status: 'failed', error: `the dashboard watcher got ${stats.requests} answers and ${stats.errors} errors${stats.firstError ? ` (first: ${stats.firstError})` : ''}`, command: cell.command };
          }
        }
      }
      return cell;
    },
  };
  return [{ id: DASHBOARD_UNWATCHED, label: 'pgmoat dashboard unwatched', kind: 'pooler', pooler: shared, only: ONLY, onlyReason: ONLY_REASON }, watched];
}
