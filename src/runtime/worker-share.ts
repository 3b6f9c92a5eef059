/**
 * `pgmoat serve --workers N`: each worker runs its own pools, so every upstream limit is split
 * between the workers for the sum to stay what the config says. Worker k (0-based index) gets
 * floor(total / N), plus one while k < total % N: the shares add up to the total exactly.
 *
 * A share of a limit never drops to 0: 0 means "unlimited" for max_db_connections and
 * max_user_connections, and a pool of 0 could never serve anyone. So when a value is below the
 * worker count (pool_size 1 with 2 workers), each worker still gets 1 and the upstream can see up
 * to N connections for it: `shortfalls()` names those keys and the primary logs them at start.
 * min_pool_size and reserve_pool_size have no such floor (0 is a valid share of them).
 */
import { nodeAtLeast } from '../util/node-version.js';
import type { Config } from '../config/schema.js';
import type { PoolSettings } from '../config/effective.js';

export interface WorkerShare {
  /** 0-based; log lines and the admin console say `index + 1`. */
  readonly index: number;
  readonly count: number;
}

/** Worker `index`'s part of `total`; the parts of all workers add up to `total`. */
export function shareOf(total: number, s: WorkerShare): number {
  const base = Math.floor(total / s.count);
  return base + (s.index < total % s.count ? 1 : 0);
}

/** A share of a limit where 0 means unlimited (or of a size that must stay >= 1). */
export function limitShareOf(total: number, s: WorkerShare): number {
  return total === 0 ? 0 : Math.max(1, shareOf(total, s));
}

export function sharePoolSettings(p: PoolSettings, s: WorkerShare): PoolSettings {
  const poolSize = limitShareOf(p.poolSize, s);
  return {
    ...p,
    poolSize,
    minPoolSize: Math.min(shareOf(p.minPoolSize, s), poolSize),
    reservePoolSize: shareOf(p.reservePoolSize, s),
    maxDbConnections: limitShareOf(p.maxDbConnections, s),
    maxUserConnections: limitShareOf(p.maxUserConnections, s),
  };
}

/** The config a worker runs: max_client_conn is its share (what SHOW CONFIG then shows). */
export function shareConfig(c: Config, s: WorkerShare): Config {
  return { ...c, max_client_conn: limitShareOf(c.max_client_conn, s) };
}

/** Keys whose value is below the worker count, so that the workers together may exceed it. */
export function shortfalls(c: Config, count: number): string[] {
  const out: string[] = [];
  const check = (key: string, v: number | undefined): void => {
    if (v !== undefined && v > 0 && v < count) out.push(`${key} (${v})`);
  };
  check('max_client_conn', c.max_client_conn);
  check('default_pool_size', c.default_pool_size);
  check('max_db_connections', c.max_db_connections);
  check('max_user_connections', c.max_user_connections);
  for (const [name, db] of Object.entries(c.databases)) {
    check(`databases.${name}.pool_size`, db.pool_size);
    check(`databases.${name}.max_db_connections`, db.max_db_connections);
  }
  for (const [name, u] of Object.entries(c.users)) {
    check(`users.${name}.pool_size`, u.pool_size);
    check(`users.${name}.max_user_connections`, u.max_user_connections);
  }
  return out;
}

/** Node added `reusePort` to net.Server.listen in 22.12 and 23.1; 23.0 (within engines) ignores it. */
export function nodeHasReusePort(version: string = process.versions.node): boolean {
  return nodeAtLeast(version, 23, 1) || (nodeAtLeast(version, 22, 12) && !nodeAtLeast(version, 23, 0));
}

/**
 * Whether each of `workers` workers opens its own listening socket with SO_REUSEPORT
 * (listen.reuse_port), so that the kernel spreads connections and the primary hands none over.
 * Not with one worker (nothing to share), nor with port 0 (each worker would get a port of its
 * own), nor on a Node without the option (the workers then share the primary's listener).
 */
export function reusePortFor(config: Config, workers: number): boolean {
  return config.listen.reuse_port && workers > 1 && config.listen.port !== 0 && nodeHasReusePort();
}
