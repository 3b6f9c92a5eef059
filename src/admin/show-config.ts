/** SHOW DATABASES, CONFIG, VERSION and HELP: the configuration in force, never a secret. */
import type { Config } from '../config/schema.js';
import { isPostgresUrl, redactUrl } from '../util/redact-url.js';
import { poolSettingsFor } from '../config/effective.js';
import type { Pool } from '../pool/pool.js';
import type { Cell, CommandResult } from './result-set.js';
import { SHOW_TOPICS } from './command-parse.js';
import { defaultOf, isChangeable, showValue } from './live-settings.js';

/** Keys whose values are never shown (the config loader never echoes them either). */
const SECRET_KEY = /password|passphrase|secret/i;

export function showDatabases(config: Config, pools: Iterable<Pool>, disabled: ReadonlySet<string> = new Set()): CommandResult {
  const columns = [
    'name', 'host', 'port', 'database', 'force_user', 'pool_size', 'min_pool_size', 'reserve_pool', 'pool_mode', 'max_connections',
    'current_connections', 'paused', 'disabled', 'environment', 'server_tls',
  ];
  const list = [...pools];
  const rows = Object.keys(config.databases)
    .sort()
    .map((name) => {
      const db = config.databases[name]!;
      const s = poolSettingsFor(config, name);
      const mine = list.filter((p) => p.database === name);
      return [
        name, db.host, db.port, db.dbname, db.user ?? null, s.poolSize, s.minPoolSize, s.reservePoolSize, s.poolMode, s.maxDbConnections,
        mine.reduce((n, p) => n + p.serverCount, 0), mine.some((p) => p.paused) ? 1 : 0, disabled.has(name) ? 1 : 0, db.environment ?? null, db.tls.mode,
      ];
    });
  return { columns, rows, tag: 'SHOW' };
}

function flatten(prefix: string, value: unknown, out: [string, unknown][]): void {
  const key = prefix.split('.').pop() ?? '';
  if (SECRET_KEY.test(key) && !key.endsWith('_file') && !key.endsWith('_env')) {
    out.push([prefix, '(hidden)']);
    return;
  }
  if (value === undefined) return;
  if (typeof value === 'string' && isPostgresUrl(value)) {
    out.push([prefix, redactUrl(value)]); // ca.store may carry its password
    return;
  }
  if (value === null || typeof value !== 'object') {
    out.push([prefix, value]);
    return;
  }
  if (Array.isArray(value)) {
    if (value.every((v) => v === null || typeof v !== 'object')) {
      out.push([prefix, value.map(String).join(',')]);
      return;
    }
    value.forEach((v, i) => flatten(`${prefix}[${i}]`, v, out));
    return;
  }
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) flatten(prefix ? `${prefix}.${k}` : k, v, out);
}

/**
 * Every setting but the databases (SHOW DATABASES has them): key, value, default, changeable
 * (PgBouncer's columns). Durations carry their unit ("30s", "5m", "1500ms"), as the file accepts
 * them; `changeable` is yes for the settings SET accepts, no for those only the file changes.
 */
export function showConfig(config: Config): CommandResult {
  const pairs: [string, unknown][] = [];
  for (const [k, v] of Object.entries(config)) if (k !== 'databases') flatten(k, v, pairs);
  const rows: Cell[][] = pairs.map(([k, v]) => [k, showValue(k, v), defaultOf(k), isChangeable(k) ? 'yes' : 'no']);
  return { columns: ['key', 'value', 'default', 'changeable'], rows, tag: 'SHOW' };
}

export function showVersion(version: string): CommandResult {
  return { columns: ['version'], rows: [[`pgmoat ${version}`]], tag: 'SHOW' };
}

const SHOW_HELP: Record<(typeof SHOW_TOPICS)[number], string> = {
  POOLS: 'clients and servers per pool, by state',
  CLIENTS: 'one row per client connection',
  SERVERS: 'one row per server connection',
  STATS: 'transactions, queries, bytes and times per pool',
  DATABASES: 'the configured databases',
  CONFIG: 'the settings in force',
  VERSION: 'the pgmoat version',
  IDENTITIES: 'live sessions per client certificate',
  HELP: 'this list',
  CERTS: 'the certificates known (CA inventory, the gateway\'s own, seen lately) with status and expiry',
  CRL: 'the CRL in force: issuer, number, this/next update, age, revoked count, stale',
  USERS: 'roles configured or with a pool: overrides, limits, connections',
  LISTS: 'counts: databases, users, pools, clients, servers, DNS names, held logins, disabled databases',
  DNS_HOSTS: 'upstream host names and the addresses their server connections reached (no DNS cache)',
};

const HELP: [string, string][] = [
  ...SHOW_TOPICS.map((t): [string, string] => [`SHOW ${t}`, SHOW_HELP[t]]),
  ['RELOAD', 're-read the configuration, certificates, keys and CRL (as SIGHUP)'],
  ['PAUSE [db]', 'hold new transactions; answers once no server connection is in use'],
  ['RESUME [db]', 'undo PAUSE (and SUSPEND, without db)'],
  ['RECONNECT [db]', 'replace every server connection as it becomes idle'],
  ['KILL [db]', 'end every client and server connection now'],
  ['SET key = value', 'change a changeable setting (SHOW CONFIG) until the next RELOAD'],
  ['DISABLE db', 'refuse new logins to db (sessions already in it go on)'],
  ['ENABLE db', 'undo DISABLE'],
  ['WAIT_CLOSE [db]', 'wait until the server connections RECONNECT or RELOAD marked have closed (at most shutdown_timeout)'],
  ['SUSPEND', 'hold new logins and new transactions until RESUME'],
  ['SHUTDOWN', 'stop the gateway (as SIGTERM)'],
];

export function showHelp(): CommandResult {
  return { columns: ['command', 'description'], rows: HELP, tag: 'SHOW' };
}
