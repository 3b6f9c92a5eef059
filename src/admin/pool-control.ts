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

/** Runs one verb; PAUSE resolves once no server of those pools is in use. */
export async function controlPools(verb: PoolVerb, database: string | undefined, pools: Iterable<Pool>, config: Config): Promise<void> {
  if (database !== undefined && !Object.hasOwn(config.databases, database)) {
    throw new PgmoatError('UNKNOWN_DATABASE', `no such database: "${database}"`, { severity: 'ERROR' });
  }
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
