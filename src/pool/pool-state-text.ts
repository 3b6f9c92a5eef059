/**
 * Words for what a pool's server connections are doing, from the collections as they are now:
 * the detail of a query_wait_timeout error and of the pool_stalled log line. Counts come from
 * the pool, never from its settings, so that the text never names connections that do not exist.
 */

export interface PoolServersNow {
  poolKey: string;
  /** What the pool may open now (pool_size, plus the reserve once it is in use). */
  poolSize: number;
  active: number;
  internal: number;
  connecting: number;
  idle: number;
  paused: boolean;
  waiting: number;
  lastConnectError: string | undefined;
  lastConnectErrorAgoMs: number;
  /** max_db_connections or max_user_connections keeps the pool from opening more. */
  limitReached: boolean;
}

function count(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

export function describeServers(p: PoolServersNow): string {
  const open = p.active + p.internal + p.connecting + p.idle;
  const parts = [
    `${p.active} in use by clients`,
    `${p.internal} running pgmoat's own query (check, reset or session settings)`,
    `${p.connecting} being opened`,
    `${p.idle} idle`,
  ];
  const out = [`Pool ${p.poolKey} has ${count(open, 'server connection')} of at most ${p.poolSize}: ${parts.join(', ')}; ${count(p.waiting, 'client')} waiting.`];
  if (p.paused) out.push('The pool is paused (PAUSE in the admin console); RESUME lets clients through.');
  if (p.limitReached) out.push('max_db_connections or max_user_connections keeps it from opening more.');
  if (p.lastConnectError !== undefined) {
    out.push(`The last attempt to open a server connection failed ${Math.round(p.lastConnectErrorAgoMs / 1000)} s ago: ${p.lastConnectError}`);
  }
  return out.join(' ');
}
