/**
 * Handshake rate: new mutual-TLS sessions per second (SSLRequest, full handshake with the
 * client certificate, StartupMessage, ReadyForQuery, Terminate) from several Node processes.
 * A second run offers the previous session's TLS ticket, for servers that resume sessions.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { loadAverage } from '../machine.js';
import { handshakeRate } from '../load/node-load.js';
import type { Cell, ScenarioResult } from '../report/model.js';
import { cpuMsAll } from '../targets/process-stats.js';
import { countServed, poolerPids, targetFiles, type BenchColumn, type BenchContext } from './context.js';

async function measure(ctx: BenchContext, col: BenchColumn, resume: boolean): Promise<Cell> {
  const o = ctx.opts;
  const settings = { procs: o.handshakeProcs, concurrency: o.handshakeConcurrency, seconds: o.handshakeSeconds, resume };
  const command = `node dist/bench/load/client-proc.js (handshake: ${settings.procs} processes x ${settings.concurrency} sessions in flight, ${settings.seconds} s${resume ? ', offering the last TLS session ticket' : ''})`;
  const load1 = loadAverage()[0];
  const pids = poolerPids(col);
  const before = pids.length > 0 ? cpuMsAll(pids) : undefined;
  const r = await handshakeRate(targetFiles(ctx, col), settings);
  const after = pids.length > 0 ? cpuMsAll(pids) : undefined;
  countServed(ctx, col, r.ok);
  if (r.ok === 0) return { status: 'failed', error: r.firstError ?? 'no session completed', command };
  return {
    status: 'ok',
    command,
    sessionsPerSec: r.sessionsPerSec,
    sessions: r.ok,
    sessionErrors: r.errors,
    resumedShare: r.resumed / r.ok,
    poolerCpuUsPerTx: before !== undefined && after !== undefined ? ((after - before) * 1000) / r.ok : undefined,
    ...(r.protocol ? { tlsProtocol: r.protocol } : {}),
    ...(r.cipher ? { tlsCipher: r.cipher } : {}),
    ...(r.firstError ? { firstError: r.firstError } : {}),
    load1,
  };
}

export async function runHandshakeScenario(ctx: BenchContext, resume: boolean): Promise<ScenarioResult> {
  const o = ctx.opts;
  const title = resume
    ? `handshake rate, TLS session resumption offered (${o.handshakeProcs} procs x ${o.handshakeConcurrency})`
    : `handshake rate, full mutual-TLS handshake (${o.handshakeProcs} procs x ${o.handshakeConcurrency})`;
  const cells: Record<string, Cell> = {};
  for (const col of ctx.columns) {
    if (col.unavailable) {
      cells[col.id] = { status: 'n/a', reason: col.unavailable };
      continue;
    }
    if (col.kind === 'direct-plain') {
      cells[col.id] = { status: 'n/a', reason: 'no TLS' };
      continue;
    }
    const cell = await measure(ctx, col, resume);
    cells[col.id] = cell;
    const text =
      cell.status === 'ok'
        ? `${cell.sessionsPerSec?.toFixed(0)} sessions/s, resumed ${((cell.resumedShare ?? 0) * 100).toFixed(0)}%, ${cell.tlsProtocol} ${cell.tlsCipher}${cell.sessionErrors ? `, ${cell.sessionErrors} errors: ${cell.firstError}` : ''}`
        : cell.status === 'failed'
          ? `failed: ${cell.error}`
          : 'n/a';
    ctx.progress(`[${title}] ${col.label}: ${text}`);
    await sleep(1000); // TIME_WAIT sockets and exiting backends settle
  }
  return { id: resume ? 'handshake-resumed' : 'handshake', title, cells };
}
