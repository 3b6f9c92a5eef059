/**
 * The pool settings that apply to one (database, role): per-role overrides win over
 * per-database ones, which win over the top-level defaults (PgBouncer's order for pool_mode
 * and pool_size). Durations are milliseconds; 0 means "disabled" or "unlimited" where the
 * config reference says so.
 */
import { PgmoatError } from '../util/errors.js';
import type { Config, PoolMode } from './schema.js';

export interface PoolSettings {
  poolMode: PoolMode;
  poolSize: number;
  /** Never above poolSize. */
  minPoolSize: number;
  reservePoolSize: number;
  reservePoolTimeout: number;
  /** 0 = unlimited. */
  maxDbConnections: number;
  /** 0 = unlimited. */
  maxUserConnections: number;
  /** 0 = prepared statements are not tracked in transaction mode. */
  maxPreparedStatements: number;
  serverConnectTimeout: number;
  /** Longest wait between two attempts to open a server connection after a transient failure. */
  serverLoginRetry: number;
  /** Deadline of pgmoat's own queries on a server connection (check, reset, startup settings); 0 = none. */
  internalQueryTimeout: number;
  serverIdleTimeout: number;
  serverLifetime: number;
  /** Empty = no reset. */
  serverResetQuery: string;
  serverResetQueryAlways: boolean;
  /** Empty = no check. */
  serverCheckQuery: string;
  serverCheckDelay: number;
  queryWaitTimeout: number;
  /** A server that owes an answer for longer is closed; 0 = disabled. */
  queryTimeout: number;
  clientIdleTimeout: number;
  idleTransactionTimeout: number;
}

export function poolSettingsFor(config: Config, dbName: string, role?: string): PoolSettings {
  const db = Object.hasOwn(config.databases, dbName) ? config.databases[dbName] : undefined;
  if (!db) throw new PgmoatError('UNKNOWN_DATABASE', `no database "${dbName}" in the configuration`);
  const user = role !== undefined && Object.hasOwn(config.users, role) ? config.users[role] : undefined;
  const poolSize = user?.pool_size ?? db.pool_size ?? config.default_pool_size;
  return {
    poolMode: user?.pool_mode ?? db.pool_mode ?? config.pool_mode,
    poolSize,
    minPoolSize: Math.min(db.min_pool_size ?? config.min_pool_size, poolSize),
    reservePoolSize: db.reserve_pool_size ?? config.reserve_pool_size,
    reservePoolTimeout: db.reserve_pool_timeout ?? config.reserve_pool_timeout,
    maxDbConnections: db.max_db_connections ?? config.max_db_connections,
    maxUserConnections: user?.max_user_connections ?? config.max_user_connections,
    maxPreparedStatements: config.max_prepared_statements,
    serverConnectTimeout: db.server_connect_timeout ?? config.server_connect_timeout,
    serverLoginRetry: config.server_login_retry,
    internalQueryTimeout: config.internal_query_timeout,
    serverIdleTimeout: config.server_idle_timeout,
    serverLifetime: config.server_lifetime,
    serverResetQuery: config.server_reset_query,
    serverResetQueryAlways: config.server_reset_query_always,
    serverCheckQuery: config.server_check_query,
    serverCheckDelay: config.server_check_delay,
    queryWaitTimeout: config.query_wait_timeout,
    queryTimeout: config.query_timeout,
    clientIdleTimeout: config.client_idle_timeout,
    idleTransactionTimeout: config.idle_transaction_timeout,
  };
}
