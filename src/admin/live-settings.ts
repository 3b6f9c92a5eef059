/**
 * The admin console's SET: which settings apply at run time, and a value checked by the very
 * field of the config schema that checks pgmoat.yaml, so `SET query_timeout = 'abc'` gets the
 * message the file would. A SET lasts until the next RELOAD or SIGHUP, which re-reads the file
 * and puts its values back (PgBouncer does the same).
 */
import type { z } from 'zod';
import { configSchema, type Config } from '../config/schema.js';
import { formatDuration } from '../config/duration.js';
import { PgmoatError } from '../util/errors.js';
import { limitShareOf, type WorkerShare } from '../runtime/worker-share.js';
import { didYouMean } from '../config/suggest.js';

/** How the text of a SET becomes the input the schema field expects. */
type Kind = 'int' | 'duration' | 'size' | 'bool' | 'text';

/**
 * Settings read again at each use (a login, a pool's next step, the janitor), so that a new value
 * takes effect without a reload. Everything else (listen, tls, databases, users, rules, admin,
 * log) is changed in the file and applied by RELOAD, or needs a restart.
 */
export const CHANGEABLE: Readonly<Record<string, Kind>> = {
  max_client_conn: 'int',
  client_login_timeout: 'duration',
  shutdown_timeout: 'duration',
  max_packet_size: 'size',
  pool_mode: 'text',
  default_pool_size: 'int',
  min_pool_size: 'int',
  reserve_pool_size: 'int',
  reserve_pool_timeout: 'duration',
  max_db_connections: 'int',
  max_user_connections: 'int',
  max_prepared_statements: 'int',
  server_reset_query: 'text',
  server_reset_query_always: 'bool',
  server_check_query: 'text',
  server_check_delay: 'duration',
  query_wait_timeout: 'duration',
  query_timeout: 'duration',
  client_idle_timeout: 'duration',
  idle_transaction_timeout: 'duration',
  server_connect_timeout: 'duration',
  server_login_retry: 'duration',
  internal_query_timeout: 'duration',
  server_idle_timeout: 'duration',
  server_lifetime: 'duration',
  tcp_keepalive: 'bool',
};

/** Top-level keys whose values are durations in ms (SHOW CONFIG prints them with a unit). */
export const DURATION_KEYS: ReadonlySet<string> = new Set([
  ...Object.entries(CHANGEABLE).filter(([, k]) => k === 'duration').map(([key]) => key),
  'tls.expiry_warning',
  'renewal.expired_grace',
  'renewal.rate_limit.window',
]);

export function isChangeable(key: string): boolean {
  return Object.hasOwn(CHANGEABLE, key);
}

function input(kind: Kind, text: string): unknown {
  switch (kind) {
    case 'int':
      return /^-?\d+$/.test(text) ? Number(text) : text;
    case 'size':
      return /^\d+$/.test(text) ? Number(text) : text;
    case 'bool': {
      const t = text.toLowerCase();
      if (['true', 'on', 'yes', '1'].includes(t)) return true;
      if (['false', 'off', 'no', '0'].includes(t)) return false;
      return text;
    }
    case 'duration':
    case 'text':
      return text;
  }
}

/** A key of the file that is not a top-level scalar SET can change (tls.mode, log.level, ...). */
function isFileKey(config: Config, key: string): boolean {
  const [top, ...rest] = key.split('.');
  if (top === undefined || !Object.hasOwn(configSchema.shape, top)) return false;
  if (rest.length === 0) return true;
  let v: unknown = config[top as keyof Config];
  for (const part of rest) {
    if (typeof v !== 'object' || v === null || !Object.hasOwn(v, part)) return top === 'databases' || top === 'users';
    v = (v as Record<string, unknown>)[part];
  }
  return true;
}

/** The value of `key` as SET would store it (ms for durations), checked as the file is. */
export function parseSetting(config: Config, key: string, text: string): number | string | boolean {
  if (!isChangeable(key)) {
    if (isFileKey(config, key)) {
      throw new PgmoatError('ADMIN_SET_NOT_CHANGEABLE', `${key} cannot be changed with SET`, {
        severity: 'ERROR',
        hint: 'Change it in the config file and RELOAD (SHOW CONFIG: changeable = no means it needs the file; listen.* needs a restart).',
      });
    }
    const near = didYouMean(key, Object.keys(CHANGEABLE));
    throw new PgmoatError('ADMIN_SET_UNKNOWN', `unknown setting: ${key}`, {
      severity: 'ERROR',
      hint: near ? `Did you mean ${near}?` : 'SHOW CONFIG lists every setting; changeable = yes are the ones SET accepts.',
    });
  }
  const field = (configSchema.shape as Record<string, z.ZodType>)[key]!;
  const r = field.safeParse(input(CHANGEABLE[key]!, text));
  if (!r.success) {
    const why = r.error.issues[0]?.message ?? 'invalid value';
    throw new PgmoatError('ADMIN_SET_INVALID', `invalid value for ${key}: ${why}`, { severity: 'ERROR' });
  }
  return r.data as number | string | boolean;
}

/** min_pool_size may not exceed a pool's size: the file's check, on the config as it would be. */
function poolSizeProblem(c: Config): string | undefined {
  if (c.min_pool_size > c.default_pool_size) return `min_pool_size (${c.min_pool_size}) must not exceed default_pool_size (${c.default_pool_size})`;
  for (const [name, db] of Object.entries(c.databases)) {
    const size = db.pool_size ?? c.default_pool_size;
    const min = db.min_pool_size ?? c.min_pool_size;
    if (min > size) return `min_pool_size (${min}) would exceed the pool size of database ${name} (${size})`;
  }
  return undefined;
}

/**
 * The configuration with `key` set to the value of `text`. Under `serve --workers N` the config
 * holds this worker's share of max_client_conn, so a SET of it is shared the same way.
 */
export function withSetting(config: Config, key: string, text: string, share: WorkerShare | undefined): Config {
  const value = parseSetting(config, key, text);
  const next = { ...config, [key]: key === 'max_client_conn' && share ? limitShareOf(value as number, share) : value } as Config;
  const problem = poolSizeProblem(next);
  if (problem) throw new PgmoatError('ADMIN_SET_INVALID', `invalid value for ${key}: ${problem}`, { severity: 'ERROR' });
  return next;
}

/** How SHOW CONFIG prints a value: durations with their unit ("30s", "5m", "1500ms", "0s" when off). */
export function showValue(key: string, value: unknown): string {
  if (DURATION_KEYS.has(key) && typeof value === 'number' && Number.isInteger(value) && value >= 0) return formatDuration(value);
  return String(value);
}

/** The default of a top-level setting, as SHOW CONFIG prints it; null where the schema has none. */
export function defaultOf(key: string): string | null {
  if (!Object.hasOwn(configSchema.shape, key)) return null;
  const r = (configSchema.shape as Record<string, z.ZodType>)[key]!.safeParse(undefined);
  if (!r.success || r.data === undefined || (typeof r.data === 'object' && r.data !== null)) return null;
  return showValue(key, r.data);
}
