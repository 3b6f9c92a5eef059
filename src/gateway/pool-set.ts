/** Rules over the gateway's set of pools as a whole, rather than any one pool. */
import type { Pool } from '../pool/pool.js';

/**
 * Pools of a database that a reload removed go once their last session ended and their last
 * server closed: without this, every database name a reload ever removed kept its Pool (stats,
 * histograms, statement registry), its idle servers and its metrics series for the life of
 * the process. Until then, a server that went idle there is closed (the sessions left may
 * still open one for their next transaction). `joining`: pools a login is about to join.
 * Answers the pools it dropped.
 */
export function dropRemovedPools(pools: Map<string, Pool>, databases: Readonly<Record<string, unknown>>, joining: ReadonlyMap<Pool, number>): Pool[] {
  const dropped: Pool[] = [];
  for (const [key, pool] of pools) {
    if (Object.hasOwn(databases, pool.database)) continue;
    if (pool.idleServers.length > 0) pool.reconnect();
    if (pool.clientCount === 0 && pool.serverCount === 0 && !joining.has(pool)) {
      pool.opener.stop();
      pools.delete(key);
      dropped.push(pool);
    }
  }
  return dropped;
}

/** max_db_connections (per database) and max_user_connections (per upstream role), across pools. */
export function mayOpenServer(pools: Iterable<Pool>, pool: Pool): boolean {
  const maxDb = pool.settings.maxDbConnections;
  const maxUser = pool.settings.maxUserConnections;
  if (maxDb === 0 && maxUser === 0) return true;
  let db = 0;
  let user = 0;
  for (const p of pools) {
    if (p.database === pool.database) db += p.serverCount;
    if (p.role === pool.role) user += p.serverCount;
  }
  return (maxDb === 0 || db < maxDb) && (maxUser === 0 || user < maxUser);
}
