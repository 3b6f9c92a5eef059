/**
 * What the soak reads about the gateway process: resident memory and open descriptors from
 * /proc/<pid>, and the gateway's own /metrics (heap, pools, reloads, revocations).
 */
import { readFileSync, readdirSync } from 'node:fs';

/** Resident set size in bytes (VmRSS), or undefined once the process is gone. */
export function residentBytes(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Open file descriptors of the process, or undefined once it is gone. */
export function openFds(pid: number): number | undefined {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return undefined;
  }
}

export interface Series {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Sample lines of the Prometheus text format. */
export function parseMetrics(text: string): Series[] {
  const out: Series[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: m[3] === '+Inf' ? Infinity : Number(m[3]) });
  }
  return out;
}

/** Sum of the series of `name` whose labels include `match`. */
export function sumOf(series: readonly Series[], name: string, match: Record<string, string> = {}): number {
  let n = 0;
  for (const s of series) {
    if (s.name !== name) continue;
    if (Object.entries(match).every(([k, v]) => s.labels[k] === v)) n += s.value;
  }
  return n;
}

export function maxOf(series: readonly Series[], name: string): number {
  let n = 0;
  for (const s of series) if (s.name === name && s.value > n) n = s.value;
  return n;
}

/** What one scrape of /metrics says, in the units the report uses. */
export interface GatewayMetricsSample {
  heapUsedBytes: number;
  heapTotalBytes: number;
  externalBytes: number;
  /** Clients waiting for a server, over every pool. */
  waiting: number;
  /** Longest current wait for a server, in seconds. */
  maxWaitSeconds: number;
  transactions: number;
  reloadsOk: number;
  reloadsRefused: number;
  revocationsEnforced: number;
}

export async function scrapeGateway(port: number, timeoutMs = 5000): Promise<GatewayMetricsSample | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) return undefined;
    const s = parseMetrics(await res.text());
    return {
      heapUsedBytes: sumOf(s, 'nodejs_heap_size_used_bytes'),
      heapTotalBytes: sumOf(s, 'nodejs_heap_size_total_bytes'),
      externalBytes: sumOf(s, 'nodejs_external_memory_bytes'),
      waiting: sumOf(s, 'pgmoat_clients', { state: 'waiting' }),
      maxWaitSeconds: maxOf(s, 'pgmoat_client_max_wait_seconds'),
      transactions: sumOf(s, 'pgmoat_transactions_total'),
      reloadsOk: sumOf(s, 'pgmoat_config_reloads_total', { outcome: 'ok' }),
      reloadsRefused: sumOf(s, 'pgmoat_config_reloads_total', { outcome: 'refused' }),
      revocationsEnforced: sumOf(s, 'pgmoat_revocations_enforced_total'),
    };
  } catch {
    return undefined;
  }
}
