/**
 * The shape of pgmoat.yaml. Durations come out in milliseconds and sizes in bytes; with a
 * FileContext (see load.ts) every path comes out absolute and every referenced file is checked.
 * docs/config-reference.md describes each key: keep the two in step.
 */
import { z } from 'zod';
import { isPostgresUrl, POSTGRES_URL_EXAMPLE } from '../util/redact-url.js';
import {
  ALWAYS,
  anyText,
  bool,
  duration,
  envName,
  expecting,
  filePath,
  host,
  int,
  oneOf,
  opensslList,
  outputPath,
  pgName,
  problem,
  size,
  text,
  type FileContext,
} from './fields.js';
import { accessProblems, accessShape, cidrList } from './access-schema.js';
import { renewalSchema } from './renewal-schema.js';
import { peerIdSchema, peerProblems, peersSchema } from './peers-schema.js';

export type { FileContext } from './fields.js';

const TLS_MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
export const POOL_MODES = ['session', 'transaction', 'statement'] as const;
const TLS_VERSIONS = ['TLSv1.2', 'TLSv1.3'] as const;
const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
const LOG_FORMATS = ['json', 'pretty'] as const;

export type TlsMode = (typeof TLS_MODES)[number];
export type PoolMode = (typeof POOL_MODES)[number];
export type TlsVersion = (typeof TLS_VERSIONS)[number];

/** The virtual database of the admin console: no upstream database may take its name. */
export const ADMIN_DATABASE = 'pgmoat';

const KB = 1024;
const GB = 1024 ** 3;

/** A mapping that refuses keys it does not know (the formatter adds "did you mean"). */
function strict<T extends z.core.$ZodLooseShape>(shape: T) {
  return z.strictObject(shape, { error: expecting('expected a mapping (key: value)') });
}

function verifies(mode: unknown): boolean {
  return mode === 'verify-ca' || mode === 'verify-full';
}

function isMode(mode: unknown): mode is TlsMode {
  return (TLS_MODES as readonly unknown[]).includes(mode);
}

function versionRank(v: unknown): number {
  return (TLS_VERSIONS as readonly unknown[]).indexOf(v);
}

type Ctx = FileContext | undefined;

function clientTlsSchema(ctx: Ctx) {
  return strict({
    mode: oneOf(TLS_MODES).default('verify-full'),
    cert: filePath(ctx, 'file').optional(),
    key: filePath(ctx, 'private key').optional(),
    key_passphrase_file: filePath(ctx, 'passphrase file').optional(),
    ca: filePath(ctx, 'file').optional(),
    crl: filePath(ctx, 'file').optional(),
    crl_state_file: outputPath(ctx).optional(),
    min_version: oneOf(TLS_VERSIONS).default('TLSv1.2'),
    max_version: oneOf(TLS_VERSIONS).optional(),
    ciphers: opensslList('ciphers').optional(),
    ciphersuites: opensslList('ciphersuites').optional(),
    groups: opensslList('groups').optional(),
    session_tickets: bool().default(true),
    allow_client_certs_without_eku: bool().default(false),
    end_sessions_on_expiry: bool().default(false),
    expiry_warning: duration().default(3_600_000),
    reload_on_change: bool().default(true),
  }).superRefine((tls, rctx) => {
    if (!isMode(tls.mode)) return;
    if (tls.mode !== 'disable') {
      if (tls.cert === undefined) rctx.addIssue(problem(`required unless mode is disable (mode is ${tls.mode})`, ['cert']));
      if (tls.key === undefined) rctx.addIssue(problem(`required unless mode is disable (mode is ${tls.mode})`, ['key']));
    }
    if (verifies(tls.mode) && tls.ca === undefined) {
      rctx.addIssue(problem(`required when mode is ${tls.mode}: the CA bundle client certificates must chain to`, ['ca']));
    }
    if (tls.key_passphrase_file !== undefined && tls.key === undefined && tls.mode === 'disable') {
      rctx.addIssue(problem('set without key', ['key_passphrase_file']));
    }
    if (tls.crl_state_file !== undefined && tls.crl === undefined) rctx.addIssue(problem('set without crl', ['crl_state_file']));
    checkVersions(tls, rctx);
  }, ALWAYS);
}

function checkVersions(tls: { min_version?: unknown; max_version?: unknown }, rctx: z.RefinementCtx): void {
  const min = versionRank(tls.min_version);
  const max = versionRank(tls.max_version);
  if (min >= 0 && max >= 0 && max < min) {
    rctx.addIssue(problem(`must not be lower than min_version (${String(tls.min_version)})`, ['max_version']));
  }
}

function serverTlsSchema(ctx: Ctx) {
  return strict({
    mode: oneOf(TLS_MODES).default('prefer'),
    ca: filePath(ctx, 'file').optional(),
    cert: filePath(ctx, 'file').optional(),
    key: filePath(ctx, 'private key').optional(),
    key_passphrase_file: filePath(ctx, 'passphrase file').optional(),
    servername: host().optional(),
    min_version: oneOf(TLS_VERSIONS).default('TLSv1.2'),
    reload_on_change: bool().default(true),
  }).superRefine((tls, rctx) => {
    if (verifies(tls.mode) && tls.ca === undefined) {
      rctx.addIssue(problem(`required when mode is ${String(tls.mode)}: the CA bundle the server certificate must chain to`, ['ca']));
    }
    if (tls.cert !== undefined && tls.key === undefined) rctx.addIssue(problem('required when cert is set', ['key']));
    if (tls.key !== undefined && tls.cert === undefined) rctx.addIssue(problem('required when key is set', ['cert']));
    if (tls.key_passphrase_file !== undefined && tls.key === undefined) {
      rctx.addIssue(problem('set without key', ['key_passphrase_file']));
    }
  }, ALWAYS);
}

function databaseSchema(ctx: Ctx) {
  return strict({
    host: host(),
    port: int(1, 65535).default(5432),
    dbname: pgName().optional(),
    user: pgName().optional(),
    password_file: filePath(ctx, 'password file').optional(),
    password_env: envName(ctx).optional(),
    environment: text().optional(),
    pool_size: int(1).optional(),
    pool_mode: oneOf(POOL_MODES).optional(),
    min_pool_size: int(0).optional(),
    reserve_pool_size: int(0).optional(),
    reserve_pool_timeout: duration().optional(),
    max_db_connections: int(0).optional(),
    server_connect_timeout: duration().optional(),
    tls: serverTlsSchema(ctx).prefault({}),
  }).superRefine((db, rctx) => {
    if (db.password_file !== undefined && db.password_env !== undefined) {
      rctx.addIssue(problem('password_file and password_env are mutually exclusive: keep one', ['password_env']));
    }
  }, ALWAYS);
}

function nameProblems(names: string[], what: string, rctx: z.RefinementCtx): void {
  for (const name of names) {
    const bytes = Buffer.byteLength(name, 'utf8');
    if (bytes === 0 || bytes > 63) rctx.addIssue(problem(`${what} name must be 1 to 63 bytes, got ${bytes}`, [name]));
  }
}

function databasesSchema(ctx: Ctx) {
  return z
    .record(z.string(), databaseSchema(ctx), { error: expecting('expected a mapping of database names to settings') })
    .superRefine((dbs, rctx) => {
      if (typeof dbs !== 'object' || dbs === null) return;
      const names = Object.keys(dbs);
      if (names.length === 0) rctx.addIssue(problem('at least one database is required'));
      nameProblems(names, 'database', rctx);
      if (names.includes(ADMIN_DATABASE)) {
        rctx.addIssue(problem(`the name "${ADMIN_DATABASE}" is reserved for the admin console`, [ADMIN_DATABASE]));
      }
    }, ALWAYS)
    .transform((dbs) => {
      const out: Record<string, (typeof dbs)[string] & { name: string; dbname: string }> = {};
      for (const [name, db] of Object.entries(dbs)) out[name] = { ...db, name, dbname: db.dbname ?? name };
      return out;
    });
}

function usersSchema() {
  return z
    .record(
      z.string(),
      strict({
        pool_mode: oneOf(POOL_MODES).optional(),
        max_user_connections: int(0).optional(),
        pool_size: int(1).optional(),
      }),
      { error: expecting('expected a mapping of role names to settings') },
    )
    .superRefine((users, rctx) => {
      if (typeof users === 'object' && users !== null) nameProblems(Object.keys(users), 'role', rctx);
    }, ALWAYS);
}

function adminSchema(ctx: Ctx) {
  return strict({
    identities: z.array(text(), { error: expecting('expected a list of certificate CNs') }).default([]),
    http: strict({
      host: host().default('127.0.0.1'),
      port: int(0, 65535),
      tls: strict({
        cert: filePath(ctx, 'file'),
        key: filePath(ctx, 'private key'),
        ca: filePath(ctx, 'file').optional(),
        allow_client_certs_without_eku: bool().default(false),
        reload_on_change: bool().default(true),
      })
        .superRefine((tls, rctx) => {
          if (tls.allow_client_certs_without_eku === true && tls.ca === undefined) {
            rctx.addIssue(problem('set without ca: without ca the listener asks for no client certificate', ['allow_client_certs_without_eku']));
          }
        }, ALWAYS)
        .optional(),
      dashboard: strict({
        enabled: bool().default(false),
        token_file: filePath(ctx, 'private key').optional(),
      }).optional(),
    }).optional(),
  });
}

/**
 * `ca:`, the CA's PostgreSQL store as the gateway uses it: revocations LISTENed for (every
 * gateway refuses and ends a revoked certificate's sessions within a second of `pgmoat revoke`).
 */
function caSchema(ctx: Ctx) {
  return strict({
    store: text().refine(isPostgresUrl, { message: `must be a postgres:// URL (e.g. ${POSTGRES_URL_EXAMPLE})` }),
    password_file: filePath(ctx, 'password file').optional(),
  });
}

export function buildConfigSchema(ctx?: FileContext) {
  return strict({
    listen: strict({
      host: host().default('127.0.0.1'),
      port: int(0, 65535).default(6432),
      /** serve --workers N: each worker listens itself (SO_REUSEPORT) instead of the primary handing connections over. */
      reuse_port: bool().default(false),
      /** HAProxy's PROXY header (v1 or v2) before the PostgreSQL bytes, from the balancers in `trusted`. */
      proxy_protocol: strict({
        trusted: cidrList(),
        required: bool().default(true),
      }).optional(),
    }).prefault({}),
    max_client_conn: int(1).default(1000),
    client_login_timeout: duration().default(15_000),
    shutdown_timeout: duration().default(30_000),
    /** After SIGTERM, how long the listener keeps accepting (while /readyz says draining) before it closes. */
    shutdown_drain_delay: duration().default(0),
    max_packet_size: size(KB, GB, '1kB', '1GB').default(GB),
    pool_mode: oneOf(POOL_MODES).default('session'),
    default_pool_size: int(1).default(20),
    min_pool_size: int(0).default(0),
    reserve_pool_size: int(0).default(0),
    reserve_pool_timeout: duration().default(5_000),
    max_db_connections: int(0).default(0),
    max_user_connections: int(0).default(0),
    max_prepared_statements: int(0).default(200),
    server_reset_query: anyText().default('DISCARD ALL'),
    server_reset_query_always: bool().default(false),
    server_check_query: anyText().default('SELECT 1'),
    server_check_delay: duration().default(30_000),
    query_wait_timeout: duration().default(120_000),
    query_timeout: duration().default(0),
    client_idle_timeout: duration().default(0),
    idle_transaction_timeout: duration().default(0),
    server_connect_timeout: duration().default(15_000),
    server_login_retry: duration().default(2_000),
    internal_query_timeout: duration().default(10_000),
    server_idle_timeout: duration().default(600_000),
    server_lifetime: duration().default(3_600_000),
    tcp_keepalive: bool().default(true),
    log: strict({
      level: oneOf(LOG_LEVELS).default('info'),
      format: oneOf(LOG_FORMATS).default('json'),
    }).prefault({}),
    tls: clientTlsSchema(ctx).prefault({}),
    databases: databasesSchema(ctx),
    users: usersSchema().default({}),
    admin: adminSchema(ctx).prefault({}),
    ...accessShape(ctx),
    renewal: renewalSchema(ctx).optional(),
    ca: caSchema(ctx).optional(),
    peer_id: peerIdSchema(),
    peers: peersSchema(),
  }).superRefine((config, rctx) => {
    accessProblems(config, rctx);
    peerProblems(config, rctx);
    // Only once the pieces are valid: a min above the pool size can never be honoured.
    if (typeof config.default_pool_size !== 'number' || typeof config.min_pool_size !== 'number') return;
    if (config.min_pool_size > config.default_pool_size) {
      rctx.addIssue(problem(`must not exceed default_pool_size (${config.default_pool_size})`, ['min_pool_size']));
    }
    if (typeof config.databases !== 'object' || config.databases === null) return;
    for (const [name, db] of Object.entries(config.databases)) {
      if (typeof db !== 'object' || db === null) continue;
      const poolSize = typeof db.pool_size === 'number' ? db.pool_size : config.default_pool_size;
      const minSize = typeof db.min_pool_size === 'number' ? db.min_pool_size : config.min_pool_size;
      if (minSize <= poolSize) continue;
      if (typeof db.min_pool_size === 'number') {
        rctx.addIssue(problem(`must not exceed the pool size (${poolSize})`, ['databases', name, 'min_pool_size']));
      } else {
        rctx.addIssue(problem(`must not be below the top-level min_pool_size (${minSize})`, ['databases', name, 'pool_size']));
      }
    }
  }, ALWAYS);
}

/** The schema without file checks: paths stay as written. load.ts builds one with a FileContext. */
export const configSchema = buildConfigSchema();

export type ConfigSchema = ReturnType<typeof buildConfigSchema>;
export type Config = z.output<ConfigSchema>;
export type ListenConfig = Config['listen'];
export type ProxyProtocolConfig = NonNullable<ListenConfig['proxy_protocol']>;
export type LogConfig = Config['log'];
export type ClientTlsConfig = Config['tls'];
export type DatabaseConfig = Config['databases'][string];
export type ServerTlsConfig = DatabaseConfig['tls'];
export type UserConfig = Config['users'][string];
export type AdminConfig = Config['admin'];
export type RuleConfigEntry = NonNullable<Config['rules']>[number];
export type LimitsConfig = Config['limits'];
export type RenewalConfig = NonNullable<Config['renewal']>;
