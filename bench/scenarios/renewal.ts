/**
 * Renewal: certificates renewed per second by the renewal service (`pgmoat ca serve` on the
 * benchmark's CA, its own process, as on a CA host), each a new mutual-TLS connection
 * authenticated by the current certificate, as `pgmoat agent` makes them; then the gateway's
 * full-handshake rate while those renewals run. Only pgmoat has a renewal service: the other
 * columns are n/a. The CSRs are made before the clock starts (the key generation is the
 * client's cost, not the service's); every renewal is recorded in the CA inventory, so the
 * inventory grows by each renewal as it does in use.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { request } from 'node:https';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeRenewalRequest } from '../../src/ca/renewal-csr.js';
import { loadAverage } from '../machine.js';
import { handshakeRate } from '../load/node-load.js';
import type { Cell, ScenarioResult } from '../report/model.js';
import { targetFiles, type BenchColumn, type BenchContext } from './context.js';

const RENEWERS = 4;
const CSRS = 32;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function startCaServe(ctx: BenchContext, mainJs: string, port: number): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    [mainJs, 'ca', 'serve', '--dir', ctx.pki.main.dir, '--listen', `127.0.0.1:${port}`, '--cert', ctx.pki.server.certPath, '--key', ctx.pki.server.keyPath, '--rate-limit', '100000000/1h', '--log-level', 'warn'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  // Ready once GET /v1/ca answers.
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`pgmoat ca serve exited: ${stderr.trim()}`);
    try {
      await post(ctx, port, undefined);
      return child;
    } catch {
      if (Date.now() > deadline) throw new Error(`pgmoat ca serve did not answer: ${stderr.trim()}`);
      await sleep(100);
    }
  }
}

/** POST /v1/renew with `csr` (GET /v1/ca without): resolves with the status. */
function post(ctx: BenchContext, port: number, csr: string | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        servername: 'localhost',
        method: csr === undefined ? 'GET' : 'POST',
        path: csr === undefined ? '/v1/ca' : '/v1/renew',
        cert: ctx.client.certPem,
        key: ctx.client.keyPem,
        ca: ctx.pki.main.caPem,
        agent: false,
        headers: csr === undefined ? {} : { 'content-type': 'application/pkcs10' },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(csr);
  });
}

interface RenewalLoad {
  ok: number;
  errors: number;
  firstError: string | undefined;
  elapsedMs: number;
}

async function renewFor(ctx: BenchContext, port: number, csrs: string[], seconds: number): Promise<RenewalLoad> {
  const load: RenewalLoad = { ok: 0, errors: 0, firstError: undefined, elapsedMs: 0 };
  const start = Date.now();
  const end = start + seconds * 1000;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (Date.now() < end) {
      const csr = csrs[next++ % csrs.length]!;
      try {
        const status = await post(ctx, port, csr);
        if (status === 200) load.ok++;
        else {
          load.errors++;
          load.firstError ??= `HTTP ${status}`;
        }
      } catch (err) {
        load.errors++;
        load.firstError ??= (err as Error).message;
      }
    }
  };
  await Promise.all(Array.from({ length: RENEWERS }, worker));
  load.elapsedMs = Date.now() - start;
  return load;
}

async function measure(ctx: BenchContext, col: BenchColumn, mainJs: string): Promise<Cell> {
  const o = ctx.opts;
  const port = await freePort();
  const csrs: string[] = [];
  for (let i = 0; i < CSRS; i++) csrs.push((await makeRenewalRequest(ctx.client.certPem, undefined)).csrPem);
  const service = await startCaServe(ctx, mainJs, port);
  const command = `pgmoat ca serve; ${RENEWERS} renewers, each renewal a new mutual-TLS connection, ${o.seconds} s; then the same with node dist/bench/load/client-proc.js handshakes (${o.handshakeProcs} x ${o.handshakeConcurrency})`;
  try {
    const load1 = loadAverage()[0];
    const alone = await renewFor(ctx, port, csrs, o.seconds);
    if (alone.ok === 0) return { status: 'failed', error: alone.firstError ?? 'no renewal completed', command };
    const settings = { procs: o.handshakeProcs, concurrency: o.handshakeConcurrency, seconds: o.handshakeSeconds, resume: false };
    const [during, handshakes] = await Promise.all([renewFor(ctx, port, csrs, o.handshakeSeconds), handshakeRate(targetFiles(ctx, col), settings)]);
    ctx.progress(`[renewal] ${col.label}: ${((alone.ok * 1000) / alone.elapsedMs).toFixed(1)} renewals/s alone; with handshakes running ${((during.ok * 1000) / during.elapsedMs).toFixed(1)} renewals/s and ${handshakes.sessionsPerSec.toFixed(0)} handshakes/s`);
    const firstError = alone.firstError ?? during.firstError ?? handshakes.firstError;
    return {
      status: 'ok',
      command,
      renewalsPerSec: (alone.ok * 1000) / alone.elapsedMs,
      renewals: alone.ok + during.ok,
      renewalErrors: alone.errors + during.errors,
      renewalsPerSecDuringHandshakes: (during.ok * 1000) / during.elapsedMs,
      sessionsPerSec: handshakes.sessionsPerSec,
      sessions: handshakes.ok,
      sessionErrors: handshakes.errors,
      ...(firstError ? { firstError } : {}),
      load1,
    };
  } finally {
    service.kill('SIGTERM');
    await new Promise((resolve) => (service.exitCode !== null ? resolve(undefined) : service.once('exit', resolve)));
  }
}

export async function runRenewalScenario(ctx: BenchContext, mainJs: string): Promise<ScenarioResult> {
  const title = `renewal: renewals per second, and full mutual-TLS handshakes per second while they run (${RENEWERS} renewers)`;
  const cells: Record<string, Cell> = {};
  for (const col of ctx.columns) {
    if (col.id !== 'pgmoat') {
      cells[col.id] = { status: 'n/a', reason: col.unavailable ?? 'pgmoat (1 worker) only' };
      continue;
    }
    cells[col.id] = await measure(ctx, col, mainJs);
  }
  return { id: 'renewal', title, cells };
}
