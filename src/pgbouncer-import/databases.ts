/**
 * [databases]: each `name = host=... port=... ...` line becomes `databases.<name>`. A password
 * written in the line never reaches the output: the entry gets `password_env`, and the
 * variable to set is listed on stderr. Lines pgmoat cannot serve as they are (Unix sockets,
 * the `*` fallback) are written as commented-out entries to complete by hand.
 */
import type { UserSecret } from '../auth/userlist.js';
import { ADMIN_DATABASE } from '../config/schema.js';
import { errorMessage } from '../util/errors.js';
import { passwordEnvName, type Ctx } from './context.js';
import { parseConnString, type ConnParam } from './conninfo.js';
import { PGMOAT_DEFAULT_POOL_SIZE, reserveDisabled } from './general.js';
import type { IniSetting, Origin } from './ini-files.js';
import { where } from './report.js';
import { parseInteger, parsePoolMode } from './values.js';

export interface DatabaseOptions {
  serverTls: Record<string, unknown> | undefined;
  userlist: Map<string, UserSecret> | undefined;
  /** Names to create from the `*` fallback entry (--fallback-database). */
  fallbackDatabases: readonly string[];
}

const SESSION_PARAMS = ['client_encoding', 'datestyle', 'timezone', 'application_name'];
const KEY_ORDER = ['host', 'port', 'dbname', 'user', 'password_env', 'pool_size', 'pool_mode', 'min_pool_size', 'reserve_pool_size', 'max_db_connections', 'tls'];

interface Built {
  db: Record<string, unknown>;
  /** Why the entry can only be a commented-out suggestion; undefined when it is usable. */
  unusable: string | undefined;
  password: string | undefined;
}

function ordered(db: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of KEY_ORDER) if (db[k] !== undefined) out[k] = db[k];
  return out;
}

function hostOf(ctx: Ctx, value: string, label: string, origin: Origin): { host?: string; unusable?: string } {
  const hosts = value.split(',').map((h) => h.trim()).filter((h) => h !== '');
  const first = hosts[0];
  if (first === undefined) return { unusable: 'empty host=' };
  if (first.startsWith('/') || first.startsWith('@')) {
    return { unusable: `host=${first} is a Unix socket; pgmoat connects to PostgreSQL over TCP only` };
  }
  if (hosts.length > 1) {
    ctx.report.notCarried(origin, `host (database ${label})`, `pgmoat connects to one host per database; ${hosts.slice(1).join(', ')} dropped (put a TCP load balancer or DNS name in front of the servers)`);
  }
  return { host: first };
}

/** One connection string -> the settings of one database entry; reports what it drops. */
function buildDatabase(ctx: Ctx, label: string, params: readonly ConnParam[], origin: Origin): Built {
  const db: Record<string, unknown> = {};
  let unusable: string | undefined = 'no host=: PgBouncer connected through its Unix socket; pgmoat connects to PostgreSQL over TCP only';
  let password: string | undefined;
  const drop = (key: string, why: string): void => ctx.report.notCarried(origin, `${key} (database ${label})`, why);
  const integer = (p: ConnParam, key: string, min: number): void => {
    const r = parseInteger(p.value, min);
    if (r.ok) db[key] = r.value;
    else drop(p.key, r.why);
  };
  for (const p of params) {
    switch (p.key) {
      case 'host': {
        const h = hostOf(ctx, p.value, label, origin);
        if (h.host !== undefined) db.host = h.host;
        unusable = h.unusable;
        break;
      }
      case 'port': {
        const r = parseInteger(p.value, 1, 65535);
        if (r.ok) db.port = r.value;
        else drop('port', r.why);
        break;
      }
      case 'dbname':
        db.dbname = p.value;
        break;
      case 'user':
        db.user = p.value;
        break;
      case 'password':
        password = p.value;
        break;
      case 'pool_size':
        integer(p, 'pool_size', 1);
        break;
      case 'min_pool_size':
        integer(p, 'min_pool_size', 0);
        break;
      case 'reserve_pool':
      case 'reserve_pool_size':
        if (reserveDisabled(ctx)) drop(p.key, "reserve_pool_timeout = 0 switched PgBouncer's reserve pool off");
        else integer(p, 'reserve_pool_size', 0);
        break;
      case 'max_db_connections':
        integer(p, 'max_db_connections', 0);
        break;
      case 'pool_mode': {
        const r = parsePoolMode(p.value);
        if (r.ok) db.pool_mode = r.value;
        else drop('pool_mode', r.why);
        break;
      }
      case 'auth_user': {
        const global = ctx.pgb.get('auth_user')?.value.trim();
        if (global !== p.value) drop('auth_user', `pgmoat has one auth_user for all databases${global ? ` (${global})` : ': set the top-level auth_user if this one should serve every database'}`);
        break;
      }
      case 'connect_query':
        drop('connect_query', 'pgmoat runs no query when it opens a server connection: use ALTER ROLE ... SET or ALTER DATABASE ... SET for session settings');
        break;
      default:
        if (SESSION_PARAMS.includes(p.key)) drop(p.key, `pgmoat passes on what each client asks for; for a default, run ALTER DATABASE ... SET ${p.key} = ... on the server`);
        else drop(p.key, 'pgmoat has no such database setting');
    }
  }
  return { db, unusable, password };
}

/**
 * Where the upstream password comes from: the line's password=, or (as PgBouncer did for a
 * line without one) the forced user's cleartext entry in the userlist. Undefined: no password.
 */
function upstreamPassword(ctx: Ctx, label: string, built: Built, origin: Origin, opts: DatabaseOptions): string | undefined {
  if (built.password !== undefined) return `password= on ${where(origin)}`;
  if (opts.serverTls?.cert !== undefined) return undefined;
  const user = built.db.user;
  if (typeof user !== 'string') {
    ctx.report.note(
      origin,
      `database ${label}`,
      "no user=: pgmoat logs in upstream as each client's role without a password (PgBouncer reused the client's password from auth_file); unless PostgreSQL trusts pgmoat for these roles, set user and password_env",
    );
    return undefined;
  }
  const entry = opts.userlist?.get(user);
  if (entry?.kind === 'plain') return `the password of "${user}" in the userlist`;
  if (entry) {
    ctx.report.note(origin, `database ${label}`, `the userlist holds only a ${entry.kind === 'md5' ? 'md5 hash' : 'SCRAM secret'} for "${user}": pgmoat needs the cleartext password to log in upstream (password_env or password_file)`);
  } else {
    ctx.report.note(origin, `database ${label}`, `no password= for user ${user}: PgBouncer took it from auth_file; if PostgreSQL asks for one, set password_env or password_file`);
  }
  return undefined;
}

/** Caps min_pool_size at the pool size, as PgBouncer does (pgmoat refuses a larger one). */
function capMin(ctx: Ctx, db: Record<string, unknown>, label: string, origin: Origin): void {
  const size = ctx.out.general.get('default_pool_size')?.value;
  const poolSize = typeof db.pool_size === 'number' ? db.pool_size : typeof size === 'number' ? size : PGMOAT_DEFAULT_POOL_SIZE;
  const globalMin = ctx.out.general.get('min_pool_size')?.value;
  const min = typeof db.min_pool_size === 'number' ? db.min_pool_size : typeof globalMin === 'number' ? globalMin : 0;
  if (min <= poolSize) return;
  db.min_pool_size = poolSize;
  ctx.report.note(origin, `min_pool_size (database ${label})`, `${min} lowered to the pool size ${poolSize} (PgBouncer caps it there; pgmoat refuses a larger one)`);
}

function finish(ctx: Ctx, label: string, built: Built, origin: Origin, opts: DatabaseOptions, envName: () => string): Record<string, unknown> {
  const source = upstreamPassword(ctx, label, built, origin, opts);
  if (source !== undefined) {
    const name = envName();
    built.db.password_env = name;
    if (!ctx.report.passwords.some((p) => p.name === name)) ctx.report.passwords.push({ name, database: label, origin, source });
  }
  capMin(ctx, built.db, label, origin);
  if (opts.serverTls) built.db.tls = { ...opts.serverTls };
  return ordered(built.db);
}

function parseLine(ctx: Ctx, s: IniSetting, label: string): ConnParam[] | undefined {
  try {
    return parseConnString(s.value);
  } catch (err) {
    ctx.report.notCarried(s.origin, `database ${label}`, `${errorMessage(err)} in its connection string`);
    return undefined;
  }
}

function fallback(ctx: Ctx, s: IniSetting, opts: DatabaseOptions, defined: Set<string>): void {
  const params = parseLine(ctx, s, '*');
  if (!params) return;
  if (opts.fallbackDatabases.length === 0) {
    const built = buildDatabase(ctx, '*', params, s.origin);
    if (built.password !== undefined) built.db.password_env = 'PGMOAT_<NAME>_PASSWORD';
    built.db.host ??= '127.0.0.1';
    ctx.out.databases.add({
      key: 'your_database',
      value: ordered(built.db),
      commentedOut: true,
      comments: ['"*" fallback: pgmoat has no fallback database; copy this entry once for each database clients use'],
    });
    ctx.report.notCarried(s.origin, 'database *', 'pgmoat has no fallback database: list each database clients use (import again with --fallback-database NAME); a template is written as a comment');
    return;
  }
  let shared: string | undefined;
  for (const name of opts.fallbackDatabases) {
    if (defined.has(name)) {
      ctx.report.note(s.origin, `database ${name}`, 'defined in [databases] already: --fallback-database ignored for it');
      continue;
    }
    const built = buildDatabase(ctx, name, params, s.origin);
    if (built.unusable) {
      ctx.report.notCarried(s.origin, 'database *', built.unusable);
      return;
    }
    const db = finish(ctx, name, built, s.origin, opts, () => (shared ??= passwordEnvName(ctx, 'fallback')));
    ctx.out.databases.add({ key: name, value: db, comments: [`from the "*" fallback (${where(s.origin)})`] });
    defined.add(name);
  }
}

export function convertDatabases(ctx: Ctx, settings: readonly IniSetting[], opts: DatabaseOptions): void {
  // A name written twice: PgBouncer keeps the later line.
  const last = new Map<string, IniSetting>();
  for (const s of settings) last.set(s.key, s);
  const defined = new Set<string>();
  let star: IniSetting | undefined;
  for (const s of last.values()) {
    const name = s.key;
    if (name === '*') {
      star = s;
      continue;
    }
    if (name.toLowerCase() === 'pgbouncer') {
      ctx.report.notCarried(s.origin, 'database pgbouncer', "PgBouncer's admin console; pgmoat's is the virtual database pgmoat (admin.identities)");
      continue;
    }
    if (name === ADMIN_DATABASE) {
      ctx.report.notCarried(s.origin, 'database pgmoat', "the name is reserved for pgmoat's admin console: rename the database clients use");
      continue;
    }
    const params = parseLine(ctx, s, name);
    if (!params) continue;
    const built = buildDatabase(ctx, name, params, s.origin);
    if (built.unusable) {
      built.db.host ??= '127.0.0.1';
      if (built.password !== undefined) built.db.password_env = `PGMOAT_${name.toUpperCase().replace(/[^A-Z0-9]+/g, '_')}_PASSWORD`;
      ctx.out.databases.add({ key: name, value: ordered(built.db), commentedOut: true, comments: [`${built.unusable}: uncomment if PostgreSQL also listens on TCP (127.0.0.1)`] });
      ctx.report.notCarried(s.origin, `database ${name}`, `${built.unusable} (a TCP version is written as a comment)`);
      continue;
    }
    ctx.out.databases.add({ key: name, value: finish(ctx, name, built, s.origin, opts, () => passwordEnvName(ctx, name)) });
    defined.add(name);
  }
  if (star) fallback(ctx, star, opts, defined);
  else if (opts.fallbackDatabases.length > 0) ctx.report.note(undefined, '--fallback-database', 'pgbouncer.ini has no "*" entry to copy: ignored');
}
