/**
 * Idle capacity: N mutual-TLS clients log in and then sit idle against a freshly started
 * pooler; the pooler's resident memory (VmRSS of its processes) is read before and after,
 * and the difference is divided by the clients that got in.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { loadAverage } from '../machine.js';
import { closeSession, openSession } from '../load/pg-mtls-client.js';
import { holdIdle } from '../load/node-load.js';
import type { Cell, ScenarioResult } from '../report/model.js';
import { rssKbAll } from '../targets/process-stats.js';
import { readFileSync } from 'node:fs';
import { poolerPids, targetFiles, type BenchColumn, type BenchContext } from './context.js';

/** Time for the pooler to finish its own work (log writes, buffers) before RSS is read. */
const SETTLE_MS = 3000;

async function warmOne(ctx: BenchContext, col: BenchColumn): Promise<void> {
  // One session first, so that pool start-up (server login, TLS context) is not counted per client.
  const t = targetFiles(ctx, col);
  const s = await openSession({ ...t, cert: readFileSync(t.certPath, 'utf8'), key: readFileSync(t.keyPath, 'utf8'), ca: readFileSync(t.caPath, 'utf8') });
  closeSession(s);
}

async function measure(ctx: BenchContext, col: BenchColumn): Promise<Cell> {
  const o = ctx.opts;
  const command = `node dist/bench/load/client-proc.js (idle: ${o.idleClients} sessions, ${o.idleConcurrency} opened at once, fresh pooler, RSS read ${SETTLE_MS / 1000} s after)`;
  if (col.restart) await col.restart();
  await warmOne(ctx, col);
  await sleep(SETTLE_MS);
  const load1 = loadAverage()[0];
  const before = rssKbAll(poolerPids(col));
  const hold = await holdIdle(targetFiles(ctx, col), o.idleClients, o.idleConcurrency);
  try {
    await sleep(SETTLE_MS);
    const after = rssKbAll(poolerPids(col));
    if (hold.ready.ok === 0) return { status: 'failed', error: hold.ready.firstError ?? 'no idle client got in', command };
    if (before === undefined || after === undefined) return { status: 'failed', error: 'the pooler process is gone', command };
    return {
      status: 'ok',
      command,
      idleClients: hold.ready.ok,
      idleErrors: hold.ready.errors,
      rssBeforeKb: before,
      rssAfterKb: after,
      kbPerClient: (after - before) / hold.ready.ok,
      ...(hold.ready.firstError ? { firstError: hold.ready.firstError } : {}),
      load1,
    };
  } finally {
    await hold.release();
  }
}

export async function runIdleScenario(ctx: BenchContext): Promise<ScenarioResult> {
  const title = `idle capacity, ${ctx.opts.idleClients} mutual-TLS clients`;
  const cells: Record<string, Cell> = {};
  for (const col of ctx.columns) {
    if (col.unavailable) {
      cells[col.id] = { status: 'n/a', reason: col.unavailable };
      continue;
    }
    if (col.kind !== 'pooler') {
      cells[col.id] = { status: 'n/a', reason: 'not a pooler: a backend process per client' };
      continue;
    }
    const cell = await measure(ctx, col);
    cells[col.id] = cell;
    ctx.progress(
      `[${title}] ${col.label}: ` +
        (cell.status === 'ok'
          ? `${cell.idleClients} clients, RSS ${((cell.rssBeforeKb ?? 0) / 1024).toFixed(1)} -> ${((cell.rssAfterKb ?? 0) / 1024).toFixed(1)} MB, ${cell.kbPerClient?.toFixed(1)} KB/client${cell.idleErrors ? `, ${cell.idleErrors} refused: ${cell.firstError}` : ''}`
          : cell.status === 'failed'
            ? `failed: ${cell.error}`
            : 'n/a'),
    );
  }
  return { id: 'idle', title, cells };
}
