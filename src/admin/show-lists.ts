/**
 * SHOW USERS, SHOW LISTS and SHOW DNS_HOSTS, read from the configuration and the live pools.
 * Column names are PgBouncer's where pgmoat has the same thing.
 */
import { isIP } from 'node:net';
import type { Config } from '../config/schema.js';
import type { Pool } from '../pool/pool.js';
import type { Cell, CommandResult } from './result-set.js';

/**
 * One row per role: those of `users:` and those with a pool now. pool_size and pool_mode are the
 * role's own overrides (empty when it has none: the database's or the default applies);
 * current_connections counts its server connections, current_client_connections its clients.
 */
export function showUsers(config: Config, pools: Iterable<Pool>): CommandResult {
  const list = [...pools];
  const names = new Set([...Object.keys(config.users), ...list.map((p) => p.role)]);
  const rows: Cell[][] = [...names].sort().map((name) => {
    const u = Object.hasOwn(config.users, name) ? config.users[name] : undefined;
    const mine = list.filter((p) => p.role === name);
    return [
      name,
      u?.pool_size ?? null,
      u?.pool_mode ?? null,
      u?.max_user_connections ?? config.max_user_connections,
      mine.reduce((n, p) => n + p.serverCount, 0),
      mine.reduce((n, p) => n + p.clientCount, 0),
    ];
  });
  return { columns: ['name', 'pool_size', 'pool_mode', 'max_user_connections', 'current_connections', 'current_client_connections'], rows, tag: 'SHOW' };
}

export interface ListCounts {
  /** Admin console sessions (they are clients too). */
  adminSessions: number;
  /** Logins waiting for RESUME after SUSPEND. */
  heldLogins: number;
  disabledDatabases: number;
}

/**
 * PgBouncer's internal lists, as far as pgmoat has them. pgmoat keeps no free lists (objects are
 * garbage-collected) and no DNS cache, so free_* and dns_* other than dns_names are not shown.
 */
export function showLists(config: Config, pools: Iterable<Pool>, counts: ListCounts): CommandResult {
  const list = [...pools];
  const users = new Set(list.map((p) => p.role));
  let clients = 0;
  let servers = 0;
  for (const p of list) {
    clients += p.clientCount;
    servers += p.serverCount;
  }
  const rows: Cell[][] = [
    ['databases', Object.keys(config.databases).length],
    ['users', users.size],
    ['pools', list.length],
    ['used_clients', clients + counts.adminSessions],
    ['used_servers', servers],
    ['dns_names', upstreamHostNames(config).size],
    ['held_logins', counts.heldLogins],
    ['disabled_databases', counts.disabledDatabases],
  ];
  return { columns: ['list', 'items'], rows, tag: 'SHOW' };
}

/** Upstream hosts written as names (not addresses), with the databases that use each. */
function upstreamHostNames(config: Config): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [name, db] of Object.entries(config.databases)) {
    if (isIP(db.host) !== 0) continue;
    out.set(db.host, [...(out.get(db.host) ?? []), name]);
  }
  return out;
}

/**
 * pgmoat keeps no DNS cache: each new server connection asks the system resolver (so /etc/hosts
 * and the resolver's own caching apply). One row per upstream host name: `ttl` is empty (nothing
 * cached), `addrs` the addresses its open server connections reached, `databases` who uses it.
 */
export function showDnsHosts(config: Config, pools: Iterable<Pool>): CommandResult {
  const list = [...pools];
  const rows: Cell[][] = [...upstreamHostNames(config)].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([host, dbs]) => {
    const addrs = new Set<string>();
    for (const p of list) {
      if (p.target.host !== host) continue;
      for (const s of p.servers()) if (s.socket.remoteAddress) addrs.add(s.socket.remoteAddress);
    }
    return [host, null, [...addrs].sort().join(','), dbs.sort().join(',')];
  });
  return { columns: ['hostname', 'ttl', 'addrs', 'databases'], rows, tag: 'SHOW' };
}
