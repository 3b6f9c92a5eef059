/**
 * --dashboard: the lines under the table that answer the question the option exists for: what a
 * watched dashboard costs pgmoat's select-only throughput, against the same process unwatched,
 * pgmoat without the dashboard, PgBouncer and direct PostgreSQL, with pgmoat's CPU and memory and
 * what the watcher itself did and cost (on a shared machine its CPU is taken from everyone).
 */
import type { BenchResults, Cell, Measured } from './model.js';

const UNWATCHED = 'pgmoat-dashboard';
const WATCHED = 'pgmoat-dashboard-watched';

function ok(cell: Cell | undefined): Measured | undefined {
  return cell?.status === 'ok' ? cell : undefined;
}

function ratio(a: number | undefined, b: number | undefined): string {
  return a === undefined || b === undefined || b === 0 ? '–' : `${(a / b).toFixed(2)}x`;
}

const int = (v: number | undefined): string => (v === undefined ? '–' : Math.round(v).toLocaleString('en-US'));
const one = (v: number | undefined): string => (v === undefined ? '–' : v.toFixed(1));
const ms = (v: number | undefined): string => (v === undefined ? '–' : `${v.toFixed(2)} ms`);

export function renderDashboardSummary(r: BenchResults): string[] {
  const s = r.scenarios.find((x) => x.id === 'select' && (x.cells[UNWATCHED] || x.cells[WATCHED]));
  if (!s) return [];
  const label = (id: string): string => r.columns.find((c) => c.id === id)?.label ?? id;
  const un = ok(s.cells[UNWATCHED]);
  const w = ok(s.cells[WATCHED]);
  const d = r.options.dashboard as { watcher?: string; view?: string; certificates?: number } | undefined;
  const out = [
    `- Dashboard, ${s.title} (${label(WATCHED).replace(/^pgmoat dashboard watched \((.*)\)$/, '$1')}; ${int(d?.certificates)} certificates added to the inventory): ` +
      `TPS unwatched ${int(un?.tps)}, watched ${int(w?.tps)}: **watched/unwatched ${ratio(w?.tps, un?.tps)}**` +
      `; unwatched/pgmoat without the dashboard ${ratio(un?.tps, ok(s.cells.pgmoat)?.tps)}` +
      `; watched/${label('pgbouncer')} ${ratio(w?.tps, ok(s.cells.pgbouncer)?.tps)}; watched/direct (TLS) ${ratio(w?.tps, ok(s.cells['direct-tls'])?.tps)}` +
      `; watched/direct (plain) ${ratio(w?.tps, ok(s.cells['direct-plain'])?.tps)}.`,
    `- Dashboard: pgmoat CPU per transaction unwatched ${one(un?.poolerCpuUsPerTx)} µs, watched ${one(w?.poolerCpuUsPerTx)} µs (${ratio(w?.poolerCpuUsPerTx, un?.poolerCpuUsPerTx)}); ` +
      `RSS after the run unwatched ${one(un?.poolerRssKb === undefined ? undefined : un.poolerRssKb / 1024)} MB, watched ${one(w?.poolerRssKb === undefined ? undefined : w.poolerRssKb / 1024)} MB; ` +
      `latency p99 unwatched ${ms(un?.p99Ms)}, watched ${ms(w?.p99Ms)}.`,
  ];
  const st = w?.dashboard;
  if (st) {
    const sec = st.ms / 1000;
    const share = st.cpuMs !== undefined && st.ms > 0 ? `${((st.cpuMs / st.ms) * 100).toFixed(1)} % of one core` : 'unknown';
    out.push(`- Dashboard watcher (${d?.watcher ?? '?'}): ${st.requests} API requests in ${sec.toFixed(0)} s (warm-up included), ${st.errors} errors; its own CPU ${int(st.cpuMs)} ms (${share}), taken from the same cores as pgbench, PostgreSQL and pgmoat.`);
  }
  return out;
}
