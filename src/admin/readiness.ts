/**
 * /readyz: the gateway is ready when it is accepting connections (listening, not shutting down)
 * and no pool is known to be broken. A pool is broken when it has no live server connection and
 * its last attempt to open one failed; a pool that still has a live server, or whose last
 * attempt succeeded, or that has not tried yet, counts as ready. Readiness never dials an
 * upstream itself: it reports what client traffic and min_pool_size already found out.
 */
import type { Pool } from '../pool/pool.js';
import type { RuntimeConfig } from '../runtime/runtime-config.js';

export interface ReadinessSource {
  readonly accepting: boolean;
  /** A stop began (SIGTERM, SHUTDOWN): not ready from that moment, so that a balancer moves new clients elsewhere. */
  readonly draining?: boolean;
  readonly pools: ReadonlyMap<string, Pool>;
  readonly runtime: RuntimeConfig;
}

export interface Readiness {
  ready: boolean;
  /** One line per reason it is not ready. */
  problems: string[];
}

/** The /readyz line of a gateway that is stopping (a balancer's check may look for it). */
export const DRAINING = 'draining: shutting down, sessions are finishing';

export function readiness(gw: ReadinessSource): Readiness {
  const problems: string[] = [];
  if (gw.draining) problems.push(DRAINING);
  else if (!gw.accepting) problems.push('not accepting connections (not listening yet, or shutting down)');
  const databases = gw.runtime.config.databases;
  for (const pool of gw.pools.values()) {
    if (!Object.hasOwn(databases, pool.database)) continue; // removed by a reload: nobody can reach it
    if (pool.members.openServers === 0 && pool.lastConnectFailed) problems.push(`pool ${pool.key}: no server connection, and the last attempt to connect to the upstream failed`);
  }
  return { ready: problems.length === 0, problems };
}
