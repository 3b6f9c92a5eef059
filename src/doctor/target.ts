/**
 * The connection to diagnose, from a libpq-style URI: postgres://user[:password]@host[:port]/db
 * with the query parameters that matter here (sslcert, sslkey, sslrootcert, connect_timeout,
 * application_name). A password in the URI is accepted but never printed.
 */
import { userInfo } from 'node:os';
import { PgmoatError } from '../util/errors.js';

export interface DoctorTarget {
  host: string;
  port: number;
  user: string;
  database: string;
  /** From the URI; PGPASSWORD is read by the caller. */
  password?: string;
  sslcert?: string;
  sslkey?: string;
  sslrootcert?: string;
  /** Seconds, from connect_timeout. */
  connectTimeout?: number;
  applicationName?: string;
}

const SCHEMES = new Set(['postgres:', 'postgresql:']);

function decode(part: string, what: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new PgmoatError('USAGE', `the ${what} in the connection URI is not valid percent-encoding`);
  }
}

function defaultUser(env: Readonly<Record<string, string | undefined>>): string {
  if (env.PGUSER) return env.PGUSER;
  try {
    return userInfo().username;
  } catch {
    return 'postgres';
  }
}

/** Parses the URI; throws PgmoatError USAGE with what is wrong (never echoing a password). */
export function parseTarget(uri: string, env: Readonly<Record<string, string | undefined>> = process.env): DoctorTarget {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new PgmoatError('USAGE', 'the connection URI does not parse: expected postgres://user@host:port/database');
  }
  if (!SCHEMES.has(url.protocol)) {
    throw new PgmoatError('USAGE', `the connection URI must start with postgres:// or postgresql:// (got ${JSON.stringify(url.protocol)})`);
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') throw new PgmoatError('USAGE', 'the connection URI has no host: expected postgres://user@host:port/database');
  if (host.includes(',')) throw new PgmoatError('USAGE', 'the connection URI lists several hosts; diagnose them one at a time');
  const port = url.port === '' ? 5432 : Number(url.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new PgmoatError('USAGE', `invalid port ${JSON.stringify(url.port)} in the connection URI`);
  const user = url.username === '' ? defaultUser(env) : decode(url.username, 'user');
  const path = decode(url.pathname.replace(/^\//, ''), 'database');
  const target: DoctorTarget = { host, port, user, database: path === '' ? user : path };
  if (url.password !== '') target.password = decode(url.password, 'password');
  const q = url.searchParams;
  for (const key of ['sslcert', 'sslkey', 'sslrootcert'] as const) {
    const v = q.get(key);
    if (v !== null && v !== '') target[key] = v;
  }
  const timeout = q.get('connect_timeout');
  if (timeout !== null && timeout !== '') {
    const n = Number(timeout);
    if (!Number.isFinite(n) || n <= 0) throw new PgmoatError('USAGE', `invalid connect_timeout ${JSON.stringify(timeout)} in the connection URI`);
    target.connectTimeout = n;
  }
  const app = q.get('application_name');
  if (app !== null && app !== '') target.applicationName = app;
  return target;
}

/** The URI as it is safe to print: no password, no query. */
export function describeTarget(t: DoctorTarget): string {
  const host = t.host.includes(':') ? `[${t.host}]` : t.host;
  return `postgres://${encodeURIComponent(t.user)}@${host}:${t.port}/${encodeURIComponent(t.database)}`;
}
