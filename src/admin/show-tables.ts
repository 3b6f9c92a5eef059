/**
 * The result sets of SHOW POOLS, CLIENTS, SERVERS, STATS and IDENTITIES, read from the pools and
 * the admin sessions at the moment of the command. Column names are PgBouncer's where it has the
 * same thing; pgmoat's own columns come after them.
 */
import { ADMIN_DATABASE } from '../config/schema.js';
import type { Pool } from '../pool/pool.js';
import { identityName, sanList, type PeerIdentity } from '../tls/peer-identity.js';
import { formatTime, type Cell, type CommandResult } from './result-set.js';

/** An admin console session as SHOW CLIENTS and SHOW IDENTITIES list it. */
export interface AdminSessionView {
  readonly id: number;
  readonly user: string;
  readonly identity: PeerIdentity;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string | undefined;
  readonly localPort: number | undefined;
  readonly connectedAt: number;
  readonly lastActivity: number;
  readonly tls: string;
  readonly applicationName: string;
}


function sortedPools(pools: Iterable<Pool>): Pool[] {
  return [...pools].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

function tlsOf(protocol: string | undefined, cipher: string | undefined): string {
  return protocol ? `${protocol}/${cipher ?? ''}` : '';
}

export function showPools(pools: Iterable<Pool>, now = Date.now()): CommandResult {
  const columns = ['database', 'user', 'cl_active', 'cl_waiting', 'sv_active', 'sv_idle', 'sv_used', 'sv_tested', 'sv_login', 'maxwait', 'maxwait_us', 'pool_mode', 'paused'];
  const rows = sortedPools(pools).map((p) => {
    const first = p.waitingClients[0];
    const waitUs = first ? Math.max(0, now - first.waitingSince) * 1000 : 0;
    return [
      p.database,
      p.role,
      p.activeClients.size + p.idleClients.size,
      p.waitingClients.length,
      p.activeServers.size,
      p.idleServers.length,
      0,
      p.internalServers.size,
      p.connecting,
      Math.floor(waitUs / 1_000_000),
      waitUs % 1_000_000,
      p.settings.poolMode,
      p.paused ? 1 : 0,
    ];
  });
  return { columns, rows, tag: 'SHOW' };
}

export function showClients(pools: Iterable<Pool>, admins: Iterable<AdminSessionView>, now = Date.now()): CommandResult {
  const columns = [
    'type', 'user', 'database', 'state', 'addr', 'port', 'local_addr', 'local_port', 'connect_time', 'request_time',
    'wait', 'wait_us', 'id', 'link', 'tls', 'application_name', 'cn', 'environment', 'serial',
  ];
  const rows: Cell[][] = [];
  for (const p of sortedPools(pools)) {
    for (const c of p.clients()) {
      const waitUs = c.phase === 'waiting' ? Math.max(0, now - c.waitingSince) * 1000 : 0;
      const id = c.info.identity;
      rows.push([
        'C', c.info.role, c.info.database, c.phase === 'waiting' ? 'waiting' : 'active', c.info.remoteAddress, c.info.remotePort,
        c.socket.localAddress ?? null, c.socket.localPort ?? null, formatTime(c.connectedAt), formatTime(c.lastActivity),
        Math.floor(waitUs / 1_000_000), waitUs % 1_000_000, c.id, c.server ? c.server.id : null,
        tlsOf(c.info.tlsProtocol, c.info.tlsCipher), c.info.settings.get('application_name') ?? '', id?.cn ?? null, id?.environment ?? null, id ? id.serial : null,
      ]);
    }
  }
  for (const a of admins) {
    rows.push([
      'C', a.user, ADMIN_DATABASE, 'active', a.remoteAddress, a.remotePort, a.localAddress ?? null, a.localPort ?? null, formatTime(a.connectedAt),
      formatTime(a.lastActivity), 0, 0, a.id, null, a.tls, a.applicationName, a.identity.cn ?? null, a.identity.environment ?? null, a.identity.serial,
    ]);
  }
  return { columns, rows, tag: 'SHOW' };
}

export function showServers(pools: Iterable<Pool>): CommandResult {
  const columns = ['type', 'user', 'database', 'state', 'addr', 'port', 'local_addr', 'local_port', 'connect_time', 'request_time', 'id', 'link', 'remote_pid', 'tls', 'retire'];
  const rows: Cell[][] = [];
  for (const p of sortedPools(pools)) {
    for (const s of p.servers()) {
      const state = s.phase === 'internal' ? 'tested' : s.phase;
      rows.push([
        'S', p.role, p.database, state, p.target.host, p.target.port, s.socket.localAddress ?? null, s.socket.localPort ?? null,
        formatTime(s.createdAt), formatTime(Math.max(s.lastResponseAt, s.idleSince)), s.id, s.client ? s.client.id : null, s.backendPid, s.tlsProtocol ?? '',
        s.retire ? 1 : 0,
      ]);
    }
  }
  return { columns, rows, tag: 'SHOW' };
}

export function showStats(pools: Iterable<Pool>): CommandResult {
  const columns = [
    'database', 'user', 'total_xact_count', 'total_query_count', 'total_received', 'total_sent', 'total_xact_time', 'total_query_time',
    'total_wait_time', 'total_server_connects', 'total_server_connect_failures',
  ];
  const rows = sortedPools(pools).map((p) => {
    let received = p.stats.bytesIn;
    let sent = p.stats.bytesOut;
    for (const c of p.clients()) {
      received += c.bytesIn;
      sent += c.socket.bytesWritten;
    }
    return [
      p.database, p.role, p.stats.transactions, p.stats.queries, received, sent, Math.round(p.timings.transaction.sumMs * 1000),
      Math.round(p.timings.query.sumMs * 1000), Math.round(p.stats.waitMsTotal * 1000), p.stats.serverConnects, p.stats.serverConnectFailures,
    ];
  });
  return { columns, rows, tag: 'SHOW' };
}

interface IdentityRow {
  identity: PeerIdentity;
  sessions: number;
  databases: Set<string>;
  sources: Set<string>;
}

/** Live sessions grouped by certificate (serial and fingerprint), the admin console's included. */
export function showIdentities(pools: Iterable<Pool>, admins: Iterable<AdminSessionView>, now = Date.now()): CommandResult {
  const byCert = new Map<string, IdentityRow>();
  const add = (id: PeerIdentity, database: string, address: string): void => {
    const key = `${id.serial}/${id.fingerprint256}`;
    let row = byCert.get(key);
    if (!row) {
      row = { identity: id, sessions: 0, databases: new Set(), sources: new Set() };
      byCert.set(key, row);
    }
    row.sessions++;
    row.databases.add(database);
    row.sources.add(address);
  };
  for (const p of pools) for (const c of p.clients()) if (c.info.identity) add(c.info.identity, c.info.database, c.info.remoteAddress);
  for (const a of admins) add(a.identity, ADMIN_DATABASE, a.remoteAddress);
  // `san`: the URI and DNS SANs (uri:..., dns:...) the rules and identity maps can match on.
  const columns = ['cn', 'environment', 'serial', 'fingerprint', 'not_after', 'expires_in_days', 'sessions', 'databases', 'source', 'san'];
  const rows = [...byCert.values()]
    .map((r) => ({ ...r, name: identityName(r.identity) }))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.identity.serial < b.identity.serial ? -1 : 1))
    .map((r) => [
      r.identity.cn ?? null, r.identity.environment ?? null, r.identity.serial, r.identity.fingerprint256, formatTime(r.identity.notAfter.getTime()),
      ((r.identity.notAfter.getTime() - now) / 86_400_000).toFixed(1), r.sessions, [...r.databases].sort().join(','), [...r.sources].sort().join(','),
      sanList(r.identity).join(',') || null,
    ]);
  return { columns, rows, tag: 'SHOW' };
}
