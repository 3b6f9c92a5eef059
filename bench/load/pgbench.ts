/**
 * Runs pgbench against one target and reads back its figures: TPS and average latency from its
 * report, p50/p99 from the per-transaction log files it writes (`--log`).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { summarizeLatencyLogs } from './latency-log.js';

export interface PgbenchOutcome {
  ok: boolean;
  /** The command line, as it can be pasted into a shell (conninfo quoted). */
  command: string;
  tps?: number;
  latencyAvgMs?: number;
  p50Ms?: number;
  p99Ms?: number;
  maxMs?: number;
  transactions?: number;
  failedTransactions?: number;
  /** pgbench's "initial connection time" (all clients connecting at the start). */
  initialConnectMs?: number;
  /** First error line pgbench printed, when it failed. */
  error?: string;
  exitCode: number | null;
}

function shellQuote(a: string): string {
  return /^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

function run(bin: string, args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(bin, args, { timeout: timeoutMs, maxBuffer: 64 << 20, killSignal: 'SIGKILL' }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: unknown }).code as number | null | undefined) ?? null : 0;
      resolve({ code: typeof code === 'number' ? code : null, stdout, stderr });
    });
  });
}

function num(text: string, re: RegExp): number | undefined {
  const m = re.exec(text);
  return m ? Number(m[1]) : undefined;
}

/** A line that says why pgbench failed, skipping its generic epilogue. */
function firstError(stderr: string, stdout: string): string | undefined {
  const lines = `${stderr}\n${stdout}`.split('\n').map((l) => l.trim());
  return lines.find((l) => /error|FATAL|ERROR|aborted|could not|does not exist/i.test(l) && !/^pgbench: error: Run was aborted/.test(l));
}

/**
 * `args` are the benchmark options (-S -c 50 ...); `conninfo` the target. With `latencyLog`,
 * pgbench writes per-transaction logs into a temp dir that is read and removed here.
 */
export async function pgbench(bin: string, args: string[], conninfo: string, o: { seconds: number; latencyLog: boolean }): Promise<PgbenchOutcome> {
  const logDir = o.latencyLog ? mkdtempSync('/tmp/pgmoat-bench-log-') : undefined;
  const prefix = 'pgbench_log';
  const full = [...args, ...(logDir ? ['--log', `--log-prefix=${join(logDir, prefix)}`] : []), conninfo];
  const command = ['pgbench', ...args, ...(logDir ? ['--log'] : []), conninfo].map(shellQuote).join(' ');
  try {
    // Generous: 500 clients first connect, and a pooler that stalls must not hang the run.
    const r = await run(bin, full, (o.seconds + 120) * 1000);
    const out = r.stdout;
    const outcome: PgbenchOutcome = {
      ok: r.code === 0,
      command,
      exitCode: r.code,
      tps: num(out, /^tps = ([\d.]+)/m),
      latencyAvgMs: num(out, /^latency average = ([\d.]+) ms/m),
      transactions: num(out, /^number of transactions actually processed: (\d+)/m),
      failedTransactions: num(out, /^number of failed transactions: (\d+)/m),
      initialConnectMs: num(out, /^initial connection time = ([\d.]+) ms/m),
    };
    if (outcome.ok && outcome.transactions === 0) {
      outcome.ok = false;
      outcome.error = `no transaction completed (initial connection time ${outcome.initialConnectMs ?? '?'} ms): raise --seconds`;
    }
    if (!outcome.error && (!outcome.ok || outcome.tps === undefined)) {
      outcome.ok = false;
      outcome.error = firstError(r.stderr, out) ?? `pgbench exited with ${r.code ?? 'a signal'}: ${r.stderr.trim().split('\n').slice(-3).join(' / ') || '(nothing on stderr)'}`;
    }
    if (logDir && outcome.ok) {
      const lat = summarizeLatencyLogs(logDir, prefix);
      if (lat) {
        outcome.p50Ms = lat.p50Ms;
        outcome.p99Ms = lat.p99Ms;
        outcome.maxMs = lat.maxMs;
      }
    }
    return outcome;
  } finally {
    if (logDir) rmSync(logDir, { recursive: true, force: true });
  }
}

/** pgbench -i: creates and fills the pgbench tables. */
export async function pgbenchInit(bin: string, scale: number, conninfo: string): Promise<void> {
  const r = await run(bin, ['-i', '-q', '-s', String(scale), conninfo], 600_000);
  if (r.code !== 0) throw new Error(`pgbench -i failed: ${firstError(r.stderr, r.stdout) ?? r.code}`);
}
