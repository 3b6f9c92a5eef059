/**
 * The pgbench scenarios: select-only at 50 and 500 clients, -M prepared, -M extended, and a
 * new connection per transaction (-C). Each target gets an unmeasured warm-up run, then the
 * measured one(s); the pooler's CPU time is read from /proc around the measured run.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { loadAverage } from '../machine.js';
import { pgbench, type PgbenchOutcome } from '../load/pgbench.js';
import type { Cell, ScenarioResult } from '../report/model.js';
import { cpuMsAll, rssKbAll } from '../targets/process-stats.js';
import type { ScenarioId } from '../options.js';
import { conninfo, countServed, poolerPids, type BenchColumn, type BenchContext } from './context.js';

interface PgbenchScenario {
  id: ScenarioId;
  title: string;
  args: string[];
  /**
   * Seconds added to -T: pgbench (15) counts the time its clients take to connect in -T, and
   * 500 clients connecting through TLS or forking 500 backends take seconds on a small machine.
   * TPS and the latency log cover only the transactions, so the figures stay comparable.
   */
  connectAllowance: number;
}

export function pgbenchScenario(ctx: BenchContext, id: ScenarioId): PgbenchScenario | undefined {
  const o = ctx.opts;
  const common = (clients: number): string[] => ['-n', '-c', String(clients), '-j', String(Math.min(o.jobs, clients))];
  // About 12 ms per client connection on a busy 2-core machine (measured: 5.9 s for 500 backends).
  const allowance = (clients: number): number => (clients > 100 ? Math.ceil((clients * 12) / 1000) : 0);
  switch (id) {
    case 'select':
      return { id, title: `select-only, ${o.clients} clients`, args: ['-S', ...common(o.clients)], connectAllowance: allowance(o.clients) };
    case 'select-many':
      return { id, title: `select-only, ${o.manyClients} clients`, args: ['-S', ...common(o.manyClients)], connectAllowance: allowance(o.manyClients) };
    case 'prepared':
      return { id, title: `select-only -M prepared, ${o.clients} clients`, args: ['-S', '-M', 'prepared', ...common(o.clients)], connectAllowance: allowance(o.clients) };
    case 'extended':
      return { id, title: `select-only -M extended, ${o.clients} clients`, args: ['-S', '-M', 'extended', ...common(o.clients)], connectAllowance: allowance(o.clients) };
    case 'connect':
      return { id, title: `connection per transaction (-C -S), ${o.connectClients} clients`, args: ['-S', '-C', ...common(o.connectClients)], connectAllowance: 0 };
    default:
      return undefined;
  }
}

function median(runs: PgbenchOutcome[]): PgbenchOutcome {
  const sorted = [...runs].sort((a, b) => (a.tps ?? 0) - (b.tps ?? 0));
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

async function measureColumn(ctx: BenchContext, s: PgbenchScenario, col: BenchColumn): Promise<Cell> {
  const o = ctx.opts;
  const target = conninfo(ctx, col);
  // A warm-up that would spend its time connecting hundreds of clients is skipped: the earlier
  // scenarios warmed the poolers already.
  if (o.warmup > 0 && s.connectAllowance === 0) {
    const w = await pgbench(ctx.pgbenchBin, [...s.args, '-T', String(o.warmup)], target, { seconds: o.warmup, latencyLog: false });
    countServed(ctx, col, w.transactions);
  }
  const seconds = o.seconds + s.connectAllowance;
  const runs: (PgbenchOutcome & { cpuUsPerTx?: number; rssKb?: number; load1: number })[] = [];
  for (let i = 0; i < o.repeat; i++) {
    const load1 = loadAverage()[0];
    const pids = poolerPids(col);
    const cpuBefore = pids.length > 0 ? cpuMsAll(pids) : undefined;
    const r = await pgbench(ctx.pgbenchBin, [...s.args, '-T', String(seconds)], target, { seconds, latencyLog: true });
    const cpuAfter = pids.length > 0 ? cpuMsAll(pids) : undefined;
    const cpuUsPerTx =
      cpuBefore !== undefined && cpuAfter !== undefined && r.transactions ? ((cpuAfter - cpuBefore) * 1000) / r.transactions : undefined;
    const rssKb = pids.length > 0 ? rssKbAll(pids) : undefined;
    runs.push({ ...r, cpuUsPerTx, rssKb, load1 });
    countServed(ctx, col, r.transactions);
    if (!r.ok) break;
  }
  const failed = runs.find((r) => !r.ok);
  if (failed) return { status: 'failed', error: failed.error ?? 'pgbench failed', command: failed.command };
  const kept = median(runs) as (typeof runs)[number];
  return {
    status: 'ok',
    command: kept.command,
    tps: kept.tps,
    latencyAvgMs: kept.latencyAvgMs,
    p50Ms: kept.p50Ms,
    p99Ms: kept.p99Ms,
    maxMs: kept.maxMs,
    transactions: kept.transactions,
    failedTransactions: kept.failedTransactions,
    initialConnectMs: kept.initialConnectMs,
    poolerCpuUsPerTx: kept.cpuUsPerTx,
    poolerRssKb: kept.rssKb,
    load1: kept.load1,
    ...(runs.length > 1 ? { repeats: runs.map((r) => r.tps ?? 0) } : {}),
  };
}

function describe(cell: Cell): string {
  if (cell.status === 'n/a') return `n/a (${cell.reason})`;
  if (cell.status === 'failed') return `failed: ${cell.error}`;
  const cpu = cell.poolerCpuUsPerTx !== undefined ? `, pooler CPU ${cell.poolerCpuUsPerTx.toFixed(1)} µs/tx` : '';
  const d = cell.dashboard;
  const watched = d ? `; dashboard: ${d.requests} requests, ${d.errors} errors${d.firstError ? ` (${d.firstError})` : ''}` : '';
  return `${cell.tps?.toFixed(0)} tps, avg ${cell.latencyAvgMs?.toFixed(2)} ms, p99 ${cell.p99Ms?.toFixed(2)} ms${cpu}${watched}`;
}

export async function runPgbenchScenario(ctx: BenchContext, s: PgbenchScenario): Promise<ScenarioResult> {
  const cells: Record<string, Cell> = {};
  for (const col of ctx.columns) {
    if (col.unavailable) {
      cells[col.id] = { status: 'n/a', reason: col.unavailable };
      continue;
    }
    cells[col.id] = col.around ? await col.around(() => measureColumn(ctx, s, col)) : await measureColumn(ctx, s, col);
    ctx.progress(`[${s.title}] ${col.label}: ${describe(cells[col.id]!)}`);
    await sleep(500); // let sockets in TIME_WAIT and backends wind down between targets
  }
  return { id: s.id, title: s.title, cells };
}
