/**
 * The connection to diagnose, from a libpq connection string in either of its forms: a URI,
 * postgres://user[:password]@host[:port]/db?sslcert=..., or keyword/value pairs,
 * host=... port=... dbname=... user=... sslcert=... (how most libpq users write them). The
 * parameters that matter here are host, port, user, dbname, password, sslcert, sslkey,
 * sslrootcert, connect_timeout and application_name; other libpq keywords are accepted and
 * not used. A password is accepted but never printed.
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

/** The parameters either form can carry, by their libpq keyword. */
type Params = Map<string, string>;

const USED = new Set(['host', 'hostaddr', 'port', 'user', 'password', 'dbname', 'sslcert', 'sslkey', 'sslrootcert', 'connect_timeout', 'application_name']);
/** libpq keywords the doctor accepts and does not need (it always verifies the server fully). */
const IGNORED = new Set([
  'sslmode', 'sslnegotiation', 'sslcompression', 'sslcrl', 'sslcrldir', 'sslsni', 'sslpassword', 'sslcertmode', 'ssl_min_protocol_version', 'ssl_max_protocol_version',
  'requiressl', 'gssencmode', 'krbsrvname', 'gsslib', 'gssdelegation', 'requirepeer', 'require_auth', 'channel_binding', 'options', 'fallback_application_name',
  'keepalives', 'keepalives_idle', 'keepalives_interval', 'keepalives_count', 'tcp_user_timeout', 'replication', 'target_session_attrs', 'load_balance_hosts',
  'client_encoding', 'service', 'passfile', 'max_protocol_version', 'min_protocol_version',
]);

const URI_FORM = 'postgres://user@host:port/database';
const KEYWORD_FORM = "'host=HOST port=PORT dbname=DATABASE user=USER sslcert=FILE ...'";

/** libpq's keyword/value form: key = value pairs, a value single-quoted with backslash escapes when it holds spaces. */
function parseKeywords(text: string): Params {
  const params: Params = new Map();
  const re = /\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(?:'((?:[^'\\]|\\.)*)'|((?:[^\s'\\]|\\.)*))/y;
  let i = 0;
  while (i < text.length) {
    if (/^\s*$/.test(text.slice(i))) break;
    re.lastIndex = i;
    const m = re.exec(text);
    if (!m) throw new PgmoatError('USAGE', `the connection string does not parse after position ${i}: expected ${KEYWORD_FORM}, or ${URI_FORM}`);
    const key = m[1]!.toLowerCase();
    const value = (m[2] ?? m[3] ?? '').replace(/\\(.)/g, '$1');
    if (!USED.has(key) && !IGNORED.has(key)) throw new PgmoatError('USAGE', `unknown connection option "${key}" in the connection string`);
    params.set(key, value);
    i = re.lastIndex;
    if (i < text.length && !/\s/.test(text[i]!)) throw new PgmoatError('USAGE', `the connection string does not parse after position ${i}: separate key=value pairs with spaces`);
  }
  return params;
}

function parseUri(uri: string): Params {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new PgmoatError('USAGE', `the connection URI does not parse: expected ${URI_FORM}`);
  }
  if (!SCHEMES.has(url.protocol)) {
    throw new PgmoatError('USAGE', `the connection URI must start with postgres:// or postgresql:// (got ${JSON.stringify(url.protocol)}), or be a keyword/value string such as ${KEYWORD_FORM}`);
  }
  const params: Params = new Map();
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host !== '') params.set('host', host);
  if (url.port !== '') params.set('port', url.port);
  if (url.username !== '') params.set('user', decode(url.username, 'user'));
  if (url.password !== '') params.set('password', decode(url.password, 'password'));
  const path = decode(url.pathname.replace(/^\//, ''), 'database');
  if (path !== '') params.set('dbname', path);
  for (const [k, v] of url.searchParams) if (USED.has(k) && !params.has(k)) params.set(k, v);
  return params;
}

/**
 * Parses a libpq connection string, as a URI (postgres://...) or in keyword/value form
 * (host=... port=...); throws PgmoatError USAGE with what is wrong (never echoing a password).
 */
export function parseTarget(conninfo: string, env: Readonly<Record<string, string | undefined>> = process.env): DoctorTarget {
  const text = conninfo.trim();
  const isUri = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) || !text.includes('=');
  const p = isUri ? parseUri(text) : parseKeywords(text);
  const host = p.get('host') || p.get('hostaddr') || '';
  if (host === '') throw new PgmoatError('USAGE', `the connection string has no host: expected ${URI_FORM} or ${KEYWORD_FORM}`);
  if (host.includes(',')) throw new PgmoatError('USAGE', 'the connection string lists several hosts; diagnose them one at a time');
  if (host.startsWith('/')) throw new PgmoatError('USAGE', `host ${JSON.stringify(host)} is a Unix socket directory: the doctor checks TCP connections with TLS`);
  const portText = p.get('port') ?? '';
  const port = portText === '' ? 5432 : Number(portText);
  if (!/^\d*$/.test(portText) || !Number.isInteger(port) || port < 1 || port > 65535) throw new PgmoatError('USAGE', `invalid port ${JSON.stringify(portText)} in the connection string`);
  const user = p.get('user') || defaultUser(env);
  const database = p.get('dbname') || user;
  const target: DoctorTarget = { host, port, user, database };
  const password = p.get('password');
  if (password !== undefined && password !== '') target.password = password;
  for (const key of ['sslcert', 'sslkey', 'sslrootcert'] as const) {
    const v = p.get(key);
    if (v !== undefined && v !== '') target[key] = v;
  }
  const timeout = p.get('connect_timeout');
  if (timeout !== undefined && timeout !== '') {
    const n = Number(timeout);
    if (!Number.isFinite(n) || n <= 0) throw new PgmoatError('USAGE', `invalid connect_timeout ${JSON.stringify(timeout)} in the connection string`);
    target.connectTimeout = n;
  }
  const app = p.get('application_name');
  if (app !== undefined && app !== '') target.applicationName = app;
  return target;
}

/** The URI as it is safe to print: no password, no query. */
export function describeTarget(t: DoctorTarget): string {
  const host = t.host.includes(':') ? `[${t.host}]` : t.host;
  return `postgres://${encodeURIComponent(t.user)}@${host}:${t.port}/${encodeURIComponent(t.database)}`;
}
