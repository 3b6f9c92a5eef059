/**
 * `pgmoat serve --workers N` as a child process (through tsx, as startGatewayProcess runs it),
 * with its log lines parsed, and the pids of its workers read from /proc.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitForOutput } from '../harness/gateway.js';
import { jsonLogLines } from '../harness/tls-probe.js';

export interface ClusterGateway {
  readonly proc: ChildProcess;
  output(): string;
  /** Every JSON log line so far. */
  logs(): Record<string, unknown>[];
  events(event: string): Record<string, unknown>[];
  /** Pids of the primary's live children (the workers). */
  workerPids(): number[];
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export function runServe(args: string[]): ChildProcess {
  const root = new URL('../..', import.meta.url).pathname;
  return spawn(process.execPath, ['--import', 'tsx', join(root, 'src/cli/main.ts'), 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'], cwd: root });
}

export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Resolves once every worker listens ("cluster_listening"). */
export async function startCluster(configPath: string, workers: number): Promise<ClusterGateway> {
  const proc = runServe(['--config', configPath, '--workers', String(workers)]);
  let out = '';
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const logs = (): Record<string, unknown>[] => jsonLogLines(out);
  await waitForOutput(proc, () => out, ['"event":"cluster_listening"'], 'pgmoat serve --workers', 30_000);
  return {
    proc,
    output: () => out,
    logs,
    events: (event) => logs().filter((l) => l.event === event),
    workerPids: () => childPids(proc.pid!),
    stop: (signal = 'SIGTERM') =>
      new Promise((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve(proc.exitCode);
        proc.once('exit', (code) => resolve(code));
        proc.kill(signal);
      }),
  };
}
