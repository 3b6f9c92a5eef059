/**
 * PAUSE, RESUME, RECONNECT and KILL over the pools of one database (or all of them), through
 * the Pool's own methods. A pool created after PAUSE (a role that had not connected yet) starts
 * unpaused.
 */
import type { Pool } from '../pool/pool.js';
import type { Config } from '../config/schema.js';
import { PgmoatError } from '../util/errors.js';
import type { PoolVerb } from './command-parse.js';

function poolsOf(pools: Iterable<Pool>, database: string | undefined): Pool[] {
  return [...pools].filter((p) => database === undefined || p.database === database);
}

/** Throws UNKNOWN_DATABASE for a name the configuration does not have (undefined: every database). */
export function checkDatabase(database: string | undefined, config: Config): void {
  if (database !== undefined && !Object.hasOwn(config.databases, database)) {
    throw new PgmoatError('UNKNOWN_DATABASE', `no such database: "${database}"`, { severity: 'ERROR' });
  }
}

/** Runs one verb; PAUSE resolves once no server of those pools is in use. */
export async function controlPools(verb: PoolVerb, database: string | undefined, pools: Iterable<Pool>, config: Config): Promise<void> {
  checkDatabase(database, config);
  const targets = poolsOf(pools, database);
  switch (verb) {
    case 'PAUSE':
      await Promise.all(targets.map((p) => p.pause()));
      return;
    case 'RESUME':
      for (const p of targets) p.resume();
      return;
    case 'RECONNECT':
      for (const p of targets) p.reconnect();
      return;
    case 'KILL': {
      const err = new PgmoatError('KILLED', 'terminating connection due to administrator command');
      for (const p of targets) p.closeAll(err);
      return;
    }
  }
}

/** Server connections RECONNECT (or a RELOAD that removed their database) marked to close. */
export function closeNeeded(pools: Iterable<Pool>, database: string | undefined): number {
  let n = 0;
  for (const p of poolsOf(pools, database)) for (const s of p.servers()) if (s.retire) n++;
  return n;
}

const WAIT_CLOSE_POLL_MS = 100;

/**
 * WAIT_CLOSE: resolves once no server connection of `database` (or of any) is still due to
 * close. Bounded: a session-mode client may hold its server for hours, so past `deadlineMs`
 * (shutdown_timeout) it throws WAIT_CLOSE_TIMEOUT; it also stops when `gone()` (the admin session
 * closed). Only the session that asked waits: the console takes other sessions' commands.
 */
export async function waitClose(database: string | undefined, pools: () => Iterable<Pool>, config: Config, deadlineMs: number, gone: () => boolean): Promise<void> {
  if (database !== undefined && !Object.hasOwn(config.databases, database)) {
    throw new PgmoatError('UNKNOWN_DATABASE', `no such database: "${database}"`, { severity: 'ERROR' });
  }
  const end = Date.now() + deadlineMs;
  for (;;) {
    const left = closeNeeded(pools(), database);
    if (left === 0 || gone()) return;
    if (Date.now() >= end) {
      throw new PgmoatError('WAIT_CLOSE_TIMEOUT', `${left} server connection(s) due to close are still open after ${deadlineMs} ms (shutdown_timeout)`, {
        severity: 'ERROR',
        hint: 'Their clients still use them (session mode, or a long transaction). Run WAIT_CLOSE again, or KILL the database.',
      });
    }
    await new Promise((resolve) => setTimeout(resolve, Math.min(WAIT_CLOSE_POLL_MS, Math.max(1, end - Date.now()))));
  }
}
