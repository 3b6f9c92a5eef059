/**
 * The one table: a row per (scenario, metric), a column per target, and the ratios
 * pgmoat/PgBouncer and pgmoat/direct-TLS. Markdown, so that it prints readably and pastes
 * into bench/README.md as it is.
 */
import type { BenchResults, Cell, Measured } from './model.js';
import { renderDashboardSummary } from './dashboard-summary.js';

interface Metric {
  key: keyof Measured;
  label: string;
  digits: number;
  better: 'higher' | 'lower';
}

const THROUGHPUT: Metric[] = [
  { key: 'tps', label: 'TPS', digits: 0, better: 'higher' },
  { key: 'latencyAvgMs', label: 'latency avg (ms)', digits: 2, better: 'lower' },
  { key: 'p99Ms', label: 'latency p99 (ms)', digits: 2, better: 'lower' },
  { key: 'poolerCpuUsPerTx', label: 'pooler CPU per tx (µs)', digits: 1, better: 'lower' },
];

const METRICS: Record<string, Metric[]> = {
  handshake: [
    { key: 'sessionsPerSec', label: 'sessions/s', digits: 0, better: 'higher' },
    { key: 'poolerCpuUsPerTx', label: 'pooler CPU per session (µs)', digits: 0, better: 'lower' },
  ],
  'handshake-resumed': [
    { key: 'sessionsPerSec', label: 'sessions/s', digits: 0, better: 'higher' },
    { key: 'resumedShare', label: 'resumed (share)', digits: 2, better: 'higher' },
  ],
  renewal: [
    { key: 'renewalsPerSec', label: 'renewals/s (service alone)', digits: 1, better: 'higher' },
    { key: 'renewalsPerSecDuringHandshakes', label: 'renewals/s while handshakes run', digits: 1, better: 'higher' },
    { key: 'sessionsPerSec', label: 'handshakes/s while renewals run', digits: 0, better: 'higher' },
  ],
  idle: [
    { key: 'kbPerClient', label: 'RSS per idle client (KB)', digits: 1, better: 'lower' },
    { key: 'rssAfterKb', label: 'RSS with all idle clients (MB)', digits: 1, better: 'lower' },
  ],
};

function metricsFor(scenarioId: string): Metric[] {
  return METRICS[scenarioId] ?? THROUGHPUT;
}

function value(cell: Cell | undefined, m: Metric): number | undefined {
  if (!cell || cell.status !== 'ok') return undefined;
  const v = cell[m.key];
  if (typeof v !== 'number' || !Number.isFinite(v)) return undefined;
  return m.key === 'rssAfterKb' ? v / 1024 : v;
}

function fmt(v: number, digits: number): string {
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function show(cell: Cell | undefined, m: Metric): string {
  if (!cell) return '';
  if (cell.status === 'n/a') return 'n/a';
  if (cell.status === 'failed') return 'failed';
  const v = value(cell, m);
  return v === undefined ? '–' : fmt(v, m.digits);
}

function ratio(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || b === 0) return '–';
  return `${(a / b).toFixed(2)}x`;
}

export function renderTable(r: BenchResults): string {
  const cols = r.columns;
  const twoWorker = cols.find((c) => c.id === 'pgmoat-2w');
  const compare = cols.find((c) => c.id === 'pgmoat-compare');
  // --dashboard: the same process watched against unwatched, and unwatched against pgmoat without the dashboard.
  const dashboard = cols.some((c) => c.id === 'pgmoat-dashboard-watched') && cols.some((c) => c.id === 'pgmoat-dashboard');
  // --haproxy: each pgmoat column behind HAProxy against PgBouncer behind HAProxy.
  const behind = ['haproxy-pgmoat', 'haproxy-pgmoat-x2'].filter((id) => cols.some((c) => c.id === id) && cols.some((c) => c.id === 'haproxy-pgbouncer'));
  const behindLabel = (id: string): string => (id === 'haproxy-pgmoat' ? 'HAProxy pgmoat' : 'HAProxy 2 pgmoat');
  // With several PgBouncers the ratios name the one they use: the newest (column `pgbouncer`).
  const severalBouncers = cols.filter((c) => c.id.startsWith('pgbouncer')).length > 1;
  const bouncer = severalBouncers ? (cols.find((c) => c.id === 'pgbouncer')?.label ?? 'PgBouncer') : 'PgBouncer';
  const head = [
    'scenario',
    'metric',
    ...cols.map((c) => c.label),
    `pgmoat/${bouncer}`,
    'pgmoat/direct-TLS',
    ...(twoWorker ? [`pgmoat 2w/${bouncer}`] : []),
    ...(compare ? [`${compare.label}/${bouncer}`, `${compare.label}/pgmoat`] : []),
    ...behind.map((id) => `${behindLabel(id)}/HAProxy PgBouncer`),
    ...(dashboard ? ['dash watched/unwatched', 'dash unwatched/pgmoat', `dash watched/${bouncer}`] : []),
  ];
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i < 2 ? '---' : '---:')).join('|')}|`];
  for (const s of r.scenarios) {
    for (const [i, m] of metricsFor(s.id).entries()) {
      const cells = cols.map((c) => show(s.cells[c.id], m));
      const moat = value(s.cells.pgmoat, m);
      const row = [
        i === 0 ? s.title : '',
        m.label + (m.better === 'lower' ? ' ↓' : ' ↑'),
        ...cells,
        ratio(moat, value(s.cells.pgbouncer, m)),
        ratio(moat, value(s.cells['direct-tls'], m)),
        ...(twoWorker ? [ratio(value(s.cells['pgmoat-2w'], m), value(s.cells.pgbouncer, m))] : []),
        ...(compare ? [ratio(value(s.cells['pgmoat-compare'], m), value(s.cells.pgbouncer, m)), ratio(value(s.cells['pgmoat-compare'], m), moat)] : []),
        ...behind.map((id) => ratio(value(s.cells[id], m), value(s.cells['haproxy-pgbouncer'], m))),
        ...(dashboard
          ? [
              ratio(value(s.cells['pgmoat-dashboard-watched'], m), value(s.cells['pgmoat-dashboard'], m)),
              ratio(value(s.cells['pgmoat-dashboard'], m), moat),
              ratio(value(s.cells['pgmoat-dashboard-watched'], m), value(s.cells.pgbouncer, m)),
            ]
          : []),
      ];
      lines.push(`| ${row.join(' | ')} |`);
    }
  }
  return lines.join('\n');
}

/** Failures and "not available" reasons, one line each, for under the table. */
export function renderNotes(r: BenchResults): string {
  const out: string[] = renderDashboardSummary(r);
  // A reason that holds for every scenario of a column is said once.
  const unavailable = new Map<string, string[]>();
  for (const s of r.scenarios) {
    for (const c of r.columns) {
      const cell = s.cells[c.id];
      if (!cell) continue;
      if (cell.status === 'failed') out.push(`- ${s.title}, ${c.label}: failed: ${cell.error}`);
      else if (cell.status === 'n/a') {
        const key = `${c.label}: ${cell.reason}`;
        unavailable.set(key, [...(unavailable.get(key) ?? []), s.title]);
      } else if (cell.firstError) out.push(`- ${s.title}, ${c.label}: some sessions failed (${cell.sessionErrors ?? cell.idleErrors ?? '?'}): ${cell.firstError}`);
    }
  }
  for (const [key, titles] of unavailable) {
    out.push(titles.length === r.scenarios.length ? `- ${key}` : `- ${key} (${titles.join('; ')})`);
  }
  return out.join('\n');
}
