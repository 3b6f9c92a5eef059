/**
 * [pgbouncer] settings that become top-level pgmoat keys: where to listen, pool sizes and
 * limits, reset and check queries, timeouts, keepalive, packet size, verbosity. Most keep their
 * name and meaning; the exceptions (server_lifetime = 0, reserve_pool_timeout = 0, a
 * listen_addr list, max_packet_size beyond 1GB) are converted with a note.
 */
import type { Ctx } from './context.js';
import type { IniSetting } from './ini-files.js';
import { parseBoolean, parseInteger, parseList, parsePoolMode, parseSeconds, type Parsed } from './values.js';

type Kind = 'pool_mode' | 'seconds' | 'bool' | 'text' | { min: number };

/** Same name and meaning in pgmoat. */
const DIRECT: Readonly<Record<string, Kind>> = {
  pool_mode: 'pool_mode',
  max_client_conn: { min: 1 },
  default_pool_size: { min: 1 },
  min_pool_size: { min: 0 },
  reserve_pool_size: { min: 0 },
  reserve_pool_timeout: 'seconds',
  max_db_connections: { min: 0 },
  max_user_connections: { min: 0 },
  max_prepared_statements: { min: 0 },
  server_reset_query: 'text',
  server_reset_query_always: 'bool',
  server_check_query: 'text',
  server_check_delay: 'seconds',
  query_wait_timeout: 'seconds',
  query_timeout: 'seconds',
  client_idle_timeout: 'seconds',
  idle_transaction_timeout: 'seconds',
  server_connect_timeout: 'seconds',
  // PgBouncer waits this long before each retry; pgmoat starts at 100 ms and doubles up to it.
  server_login_retry: 'seconds',
  server_idle_timeout: 'seconds',
  server_lifetime: 'seconds',
  client_login_timeout: 'seconds',
  tcp_keepalive: 'bool',
};

const ONE_GB = 1024 ** 3;
/** PgBouncer's default max_packet_size (2^31 - 1): "no limit" in practice. */
const PGBOUNCER_MAX_PACKET = 2_147_483_647;

function parseKind(kind: Kind, value: string): Parsed<unknown> {
  if (kind === 'pool_mode') return parsePoolMode(value);
  if (kind === 'seconds') return parseSeconds(value);
  if (kind === 'bool') return parseBoolean(value);
  if (kind === 'text') return { ok: true, value };
  return parseInteger(value, kind.min);
}

/** True when PgBouncer's reserve pool is switched off by reserve_pool_timeout = 0. */
export function reserveDisabled(ctx: Ctx): boolean {
  const s = ctx.pgb.get('reserve_pool_timeout');
  if (!s) return false;
  const r = parseSeconds(s.value);
  return r.ok && r.value === 0;
}

function direct(ctx: Ctx, s: IniSetting, kind: Kind): void {
  const key = s.key.toLowerCase();
  const r = parseKind(kind, s.value);
  if (!r.ok) {
    ctx.report.notCarried(s.origin, key, r.why);
    return;
  }
  if (key === 'server_lifetime' && r.value === 0) {
    ctx.report.notCarried(
      s.origin,
      key,
      "0 means 'use each server connection once' in PgBouncer and 'no age limit' in pgmoat, which has no use-once mode; pgmoat's default (3600s) applies",
    );
    return;
  }
  if (key === 'reserve_pool_timeout' && r.value === 0) {
    ctx.report.note(s.origin, key, "0 switches PgBouncer's reserve pool off; in pgmoat 0 would mean 'use it at once', so the reserve pool sizes are carried over as 0 instead");
    return;
  }
  if (key === 'reserve_pool_size' && reserveDisabled(ctx) && r.value !== 0) {
    ctx.out.general.add({ key, value: 0, comments: [`${String(r.value)} in PgBouncer, where reserve_pool_timeout = 0 switched the reserve pool off`] });
    return;
  }
  ctx.out.general.add({ key, value: r.value });
}

function maxPacketSize(ctx: Ctx, s: IniSetting): void {
  const r = parseInteger(s.value, 1);
  if (!r.ok) {
    ctx.report.notCarried(s.origin, 'max_packet_size', r.why);
  } else if (r.value === PGBOUNCER_MAX_PACKET) {
    // PgBouncer's default: pgmoat's own maximum (1GB) is the same "no practical limit".
  } else if (r.value > ONE_GB) {
    ctx.out.general.add({ key: 'max_packet_size', value: '1GB' });
    ctx.report.note(s.origin, 'max_packet_size', `${r.value} bytes lowered to 1GB, pgmoat's largest (PostgreSQL's own limit on a message)`);
  } else if (r.value < 1024) {
    ctx.report.notCarried(s.origin, 'max_packet_size', `${r.value} bytes is below pgmoat's smallest, 1kB`);
  } else {
    ctx.out.general.add({ key: 'max_packet_size', value: r.value });
  }
}

function listenAddr(ctx: Ctx, s: IniSetting): void {
  const addrs = parseList(s.value);
  if (addrs.length === 0) {
    ctx.report.note(s.origin, 'listen_addr', 'empty: PgBouncer listened on its Unix socket only; pgmoat listens on TCP, 127.0.0.1 by default (listen.host)');
    return;
  }
  const first = addrs[0]!;
  ctx.out.listen.host = first === '*' ? '0.0.0.0' : first;
  if (first === '*') ctx.report.note(s.origin, 'listen_addr', '"*" written as 0.0.0.0 (every IPv4 address); use :: for IPv6 as well');
  if (addrs.length > 1) {
    ctx.report.notCarried(s.origin, 'listen_addr', `pgmoat listens on one address; ${addrs.slice(1).join(', ')} dropped (use 0.0.0.0 or :: for every address)`);
  }
}

function listenPort(ctx: Ctx, s: IniSetting): void {
  const r = parseInteger(s.value, 0, 65535);
  if (r.ok) ctx.out.listen.port = r.value;
  else ctx.report.notCarried(s.origin, 'listen_port', r.why);
}

function verbose(ctx: Ctx, s: IniSetting): void {
  const r = parseInteger(s.value, 0);
  if (!r.ok) ctx.report.notCarried(s.origin, 'verbose', r.why);
  else if (r.value >= 2) ctx.out.log.level = 'trace';
  else if (r.value === 1) ctx.out.log.level = 'debug';
}

/** Converts one [pgbouncer] setting if it is a general one; returns false otherwise. */
export function convertGeneral(ctx: Ctx, s: IniSetting): boolean {
  const key = s.key.toLowerCase();
  const kind = DIRECT[key];
  if (kind !== undefined) direct(ctx, s, kind);
  else if (key === 'max_packet_size') maxPacketSize(ctx, s);
  else if (key === 'listen_addr') listenAddr(ctx, s);
  else if (key === 'listen_port') listenPort(ctx, s);
  else if (key === 'verbose') verbose(ctx, s);
  else return false;
  return true;
}

/** pgmoat's default_pool_size when the file does not set one. */
export const PGMOAT_DEFAULT_POOL_SIZE = 20;

/** PgBouncer caps min_pool_size at the pool size silently; pgmoat refuses the file, so cap it here. */
export function capMinPoolSize(ctx: Ctx): void {
  const min = ctx.out.general.get('min_pool_size');
  const size = ctx.out.general.get('default_pool_size');
  const poolSize = typeof size?.value === 'number' ? size.value : PGMOAT_DEFAULT_POOL_SIZE;
  if (min && typeof min.value === 'number' && min.value > poolSize) {
    const origin = ctx.pgb.get('min_pool_size')?.origin;
    ctx.report.note(origin, 'min_pool_size', `${min.value} lowered to the pool size ${poolSize} (PgBouncer caps it there; pgmoat refuses a larger one)`);
    min.value = poolSize;
  }
}
