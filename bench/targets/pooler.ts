/** What the benchmark needs of a running pooler process (PgBouncer or pgmoat). */
import { connect } from 'node:net';
import { readFileSync, existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ChildProcess } from 'node:child_process';

export interface RunningPooler {
  readonly label: string;
  readonly port: number;
  readonly logPath: string;
  /** The process and its workers, for RSS and CPU time. */
  pids(): number[];
  stop(): Promise<void>;
}

/** Resolves once 127.0.0.1:port accepts a TCP connection; rejects if `proc` exits first. */
export async function waitForPort(port: number, proc: ChildProcess, logPath: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null || proc.signalCode !== null) {
      throw new Error(`exited with ${proc.exitCode ?? proc.signalCode} during start:\n${logTail(logPath)}`);
    }
    const up = await new Promise<boolean>((resolve) => {
      const s = connect({ host: '127.0.0.1', port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (up) return;
    await sleep(100);
  }
  throw new Error(`did not listen on port ${port} within ${timeoutMs / 1000} s:\n${logTail(logPath)}`);
}

export function logTail(path: string, lines = 20): string {
  if (!existsSync(path)) return '(no log)';
  return readFileSync(path, 'utf8').split('\n').slice(-lines).join('\n');
}

/** SIGTERM (or `signal`), then SIGKILL after `graceMs`. Resolves with whether it exited by itself. */
export function stopProcess(proc: ChildProcess, graceMs: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<boolean> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    let graceful = true;
    const timer = setTimeout(() => {
      graceful = false;
      proc.kill('SIGKILL');
    }, graceMs);
    proc.once('exit', () => {
      clearTimeout(timer);
      resolve(graceful);
    });
    proc.kill(signal);
  });
}
