/**
 * Latency percentiles from pgbench's per-transaction logs (`--log`): one file per thread, one
 * line per transaction, `client_id transaction_no time script_no time_epoch time_us`, where
 * `time` is the transaction's latency in microseconds (or `failed` / `skipped`).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface LatencySummary {
  count: number;
  avgMs: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** Appends the latencies (µs) of one log file's text to `out`; returns the new fill. */
function parseInto(text: string, out: { values: Float64Array; n: number }): void {
  let lineStart = 0;
  while (lineStart < text.length) {
    let lineEnd = text.indexOf('\n', lineStart);
    if (lineEnd < 0) lineEnd = text.length;
    // Third field: skip two spaces.
    const s1 = text.indexOf(' ', lineStart);
    const s2 = s1 < 0 ? -1 : text.indexOf(' ', s1 + 1);
    const s3 = s2 < 0 ? -1 : text.indexOf(' ', s2 + 1);
    if (s3 > 0 && s3 < lineEnd) {
      const v = Number(text.slice(s2 + 1, s3));
      if (Number.isFinite(v)) {
        if (out.n === out.values.length) {
          const bigger = new Float64Array(out.values.length * 2);
          bigger.set(out.values);
          out.values = bigger;
        }
        out.values[out.n++] = v;
      }
    }
    lineStart = lineEnd + 1;
  }
}

/** Reads every `<prefix>.*` file in `dir`. */
export function summarizeLatencyLogs(dir: string, prefix: string): LatencySummary | undefined {
  const acc = { values: new Float64Array(1 << 16), n: 0 };
  for (const name of readdirSync(dir)) {
    if (!name.startsWith(`${prefix}.`)) continue;
    parseInto(readFileSync(join(dir, name), 'utf8'), acc);
  }
  if (acc.n === 0) return undefined;
  const sorted = acc.values.subarray(0, acc.n).sort();
  let sum = 0;
  for (let i = 0; i < sorted.length; i++) sum += sorted[i]!;
  return {
    count: sorted.length,
    avgMs: sum / sorted.length / 1000,
    p50Ms: percentile(sorted, 50) / 1000,
    p99Ms: percentile(sorted, 99) / 1000,
    maxMs: sorted[sorted.length - 1]! / 1000,
  };
}
