/** The shape of one benchmark run, as kept in bench/results/<date>.json. */
import type { MachineInfo } from '../machine.js';

/** direct-plain, direct-tls, pgbouncer, pgmoat (1 worker), pgmoat-2w, ... */
export type ColumnId = string;

export interface Measured {
  status: 'ok';
  /** The exact command (pgbench) or load generator settings that produced it. */
  command?: string;
  tps?: number;
  latencyAvgMs?: number;
  p50Ms?: number;
  p99Ms?: number;
  maxMs?: number;
  transactions?: number;
  failedTransactions?: number;
  /** pgbench's initial connection time of all clients (ms). */
  initialConnectMs?: number;
  /** CPU time (user + system) of the pooler's processes per transaction. */
  poolerCpuUsPerTx?: number;
  sessionsPerSec?: number;
  /** Renewal scenario: renewals per second by the renewal service alone, and while handshakes run. */
  renewalsPerSec?: number;
  renewalsPerSecDuringHandshakes?: number;
  renewals?: number;
  renewalErrors?: number;
  sessions?: number;
  sessionErrors?: number;
  /** Share of sessions that resumed a TLS session (0..1). */
  resumedShare?: number;
  tlsProtocol?: string;
  tlsCipher?: string;
  idleClients?: number;
  idleErrors?: number;
  rssBeforeKb?: number;
  rssAfterKb?: number;
  kbPerClient?: number;
  firstError?: string;
  /** Load average (1 min) when the measurement started. */
  load1?: number;
  /** VmRSS of the pooler's processes (kB) right after the kept measured run. */
  poolerRssKb?: number;
  /** --dashboard, the watched column: what the watcher asked of the gateway and what it cost itself. */
  dashboard?: {
    requests: number;
    errors: number;
    firstError?: string;
    /** CPU time of the watcher (Chromium's processes, or the benchmark process for the poller), ms. */
    cpuMs: number | undefined;
    ms: number;
  };
  /** Every repeat's TPS when --repeat > 1 (the kept one is the median). */
  repeats?: number[];
}

export type Cell = Measured | { status: 'failed'; error: string; command?: string } | { status: 'n/a'; reason: string };

export interface ScenarioResult {
  id: string;
  title: string;
  cells: Record<ColumnId, Cell>;
}

export interface Column {
  id: ColumnId;
  label: string;
}

export interface BenchResults {
  date: string;
  durationSec: number;
  machine: MachineInfo;
  loadAverageStart: [number, number, number];
  loadAverageEnd: [number, number, number];
  /** pgbouncer: the newest PgBouncer measured (the ratios' reference); pgbouncers: every one, newest first (absent in older files). */
  versions: { node: string; postgres: string; pgbench: string; pgbouncer: string | null; pgbouncers?: string[]; pgmoat: string; openssl: string };
  options: Record<string, unknown>;
  note: string | undefined;
  columns: Column[];
  scenarios: ScenarioResult[];
}
