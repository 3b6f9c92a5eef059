/**
 * A load-generating child process, spawned by the benchmark (never run by hand). Its job comes
 * as JSON in the BENCH_CLIENT_JOB environment variable, and it answers with JSON lines on stdout.
 *
 *   handshake: `concurrency` loops that open a mutual-TLS session, log in, send Terminate, and
 *              start again until the deadline; prints one result line.
 *   idle:      opens `count` sessions (at most `concurrency` in flight), prints a "ready" line,
 *              then holds them open, idle, until stdin closes or SIGTERM.
 */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { closeSession, openSession, type MtlsTarget, type OpenSession } from './pg-mtls-client.js';

export interface TargetFiles {
  host: string;
  port: number;
  user: string;
  database: string;
  certPath: string;
  keyPath: string;
  caPath: string;
  servername: string;
}

export type ClientJob =
  | { mode: 'handshake'; target: TargetFiles; concurrency: number; seconds: number; resume: boolean; startAt: number }
  | { mode: 'idle'; target: TargetFiles; count: number; concurrency: number };

export interface HandshakeResult {
  ok: number;
  errors: number;
  resumed: number;
  elapsedMs: number;
  firstError?: string;
  protocol?: string | null;
  cipher?: string;
}

export interface IdleReady {
  event: 'ready';
  ok: number;
  errors: number;
  elapsedMs: number;
  firstError?: string;
}

function loadTarget(f: TargetFiles): MtlsTarget {
  return {
    host: f.host,
    port: f.port,
    user: f.user,
    database: f.database,
    servername: f.servername,
    cert: readFileSync(f.certPath, 'utf8'),
    key: readFileSync(f.keyPath, 'utf8'),
    ca: readFileSync(f.caPath, 'utf8'),
  };
}

function describe(err: unknown): string {
  return err instanceof Error ? `${(err as NodeJS.ErrnoException).code ?? ''} ${err.message}`.trim() : String(err);
}

async function handshakes(job: Extract<ClientJob, { mode: 'handshake' }>): Promise<HandshakeResult> {
  const target = loadTarget(job.target);
  const wait = job.startAt - Date.now();
  if (wait > 0) await sleep(wait);
  const started = Date.now();
  const deadline = started + job.seconds * 1000;
  const result: HandshakeResult = { ok: 0, errors: 0, resumed: 0, elapsedMs: 0 };
  let session: Buffer | undefined;
  const keep = job.resume ? (s: Buffer): void => void (session = s) : undefined;
  const loop = async (): Promise<void> => {
    while (Date.now() < deadline) {
      try {
        const s = await openSession(target, job.resume ? session : undefined, keep);
        result.ok++;
        if (s.resumed) result.resumed++;
        result.protocol ??= s.protocol;
        result.cipher ??= s.cipher;
        closeSession(s);
      } catch (err) {
        result.errors++;
        result.firstError ??= describe(err);
        await sleep(20);
      }
    }
  };
  await Promise.all(Array.from({ length: job.concurrency }, loop));
  result.elapsedMs = Date.now() - started;
  return result;
}

async function idle(job: Extract<ClientJob, { mode: 'idle' }>): Promise<void> {
  const target = loadTarget(job.target);
  const open: OpenSession[] = [];
  const started = Date.now();
  let next = 0;
  let errors = 0;
  let firstError: string | undefined;
  const opener = async (): Promise<void> => {
    while (next < job.count) {
      next++;
      try {
        open.push(await openSession(target));
      } catch (err) {
        errors++;
        firstError ??= describe(err);
      }
    }
  };
  await Promise.all(Array.from({ length: job.concurrency }, opener));
  const ready: IdleReady = { event: 'ready', ok: open.length, errors, elapsedMs: Date.now() - started, ...(firstError ? { firstError } : {}) };
  process.stdout.write(JSON.stringify(ready) + '\n');
  await new Promise<void>((resolve) => {
    process.stdin.on('end', resolve);
    process.stdin.on('close', resolve);
    process.once('SIGTERM', resolve);
    process.stdin.resume();
  });
  for (const s of open) s.socket.destroy();
}

async function main(): Promise<void> {
  const text = process.env.BENCH_CLIENT_JOB;
  if (!text) throw new Error('BENCH_CLIENT_JOB is not set: this process is started by bench/run.ts');
  const job = JSON.parse(text) as ClientJob;
  if (job.mode === 'handshake') {
    process.stdout.write(JSON.stringify(await handshakes(job)) + '\n');
  } else {
    await idle(job);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`client-proc: ${describe(err)}\n`);
    process.exit(1);
  },
);
