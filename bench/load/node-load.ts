/**
 * The parent side of the Node load generators (client-proc.ts): spawns them, collects their
 * JSON lines, and sums what several processes measured.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ClientJob, HandshakeResult, IdleReady, TargetFiles } from './client-proc.js';

const CLIENT_PROC = fileURLToPath(new URL('./client-proc.js', import.meta.url));

interface Spawned {
  proc: ChildProcess;
  /** Resolves with the first JSON line the child prints. */
  firstLine: Promise<unknown>;
  exited: Promise<number | null>;
}

function spawnClient(job: ClientJob): Spawned {
  const proc = spawn(process.execPath, [CLIENT_PROC], {
    env: { ...process.env, BENCH_CLIENT_JOB: JSON.stringify(job) },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => {
    if (err.length < 4000) err += d;
  });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const firstLine = new Promise<unknown>((resolve, reject) => {
    proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl >= 0) resolve(JSON.parse(out.slice(0, nl)));
    });
    void exited.then((code) => reject(new Error(`load generator exited with ${code} before answering: ${err.trim()}`)));
  });
  firstLine.catch(() => undefined); // observed by the caller; never an unhandled rejection
  return { proc, firstLine, exited };
}

export interface HandshakeRate {
  sessionsPerSec: number;
  ok: number;
  errors: number;
  resumed: number;
  firstError?: string;
  protocol?: string | null;
  cipher?: string;
}

/** New mutual-TLS sessions per second, summed over `procs` processes of `concurrency` loops. */
export async function handshakeRate(target: TargetFiles, o: { procs: number; concurrency: number; seconds: number; resume: boolean }): Promise<HandshakeRate> {
  // Every process starts at the same moment, once all of them have loaded.
  const startAt = Date.now() + 300 + 100 * o.procs;
  const children = Array.from({ length: o.procs }, () =>
    spawnClient({ mode: 'handshake', target, concurrency: o.concurrency, seconds: o.seconds, resume: o.resume, startAt }),
  );
  const results = (await Promise.all(children.map((c) => c.firstLine))) as HandshakeResult[];
  await Promise.all(children.map((c) => c.exited));
  const sum: HandshakeRate = { sessionsPerSec: 0, ok: 0, errors: 0, resumed: 0 };
  for (const r of results) {
    sum.sessionsPerSec += r.elapsedMs > 0 ? (r.ok * 1000) / r.elapsedMs : 0;
    sum.ok += r.ok;
    sum.errors += r.errors;
    sum.resumed += r.resumed;
    sum.firstError ??= r.firstError;
    sum.protocol ??= r.protocol;
    sum.cipher ??= r.cipher;
  }
  return sum;
}

export interface IdleHold {
  ready: IdleReady;
  /** Closes every idle session and waits for the process to end. */
  release(): Promise<void>;
}

/** Opens `count` idle sessions in one process and keeps them until release(). */
export async function holdIdle(target: TargetFiles, count: number, concurrency: number): Promise<IdleHold> {
  const child = spawnClient({ mode: 'idle', target, count, concurrency });
  const ready = (await child.firstLine) as IdleReady;
  return {
    ready,
    async release() {
      child.proc.stdin!.end();
      const timer = setTimeout(() => child.proc.kill('SIGKILL'), 30_000);
      await child.exited;
      clearTimeout(timer);
    },
  };
}
