/**
 * `--upstream postgres://user:pass@host:port/db?sslmode=...`: a real PostgreSQL to put behind
 * the quick start instead of PGlite. The password never appears in an error message.
 */
import { PgmoatError } from '../util/errors.js';
import type { TlsMode } from '../config/schema.js';

export interface UpstreamUrl {
  host: string;
  port: number;
  user: string;
  password: string | undefined;
  dbname: string;
  tlsMode: TlsMode;
}

const SSLMODES: readonly TlsMode[] = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'];

function bad(why: string): PgmoatError {
  return new PgmoatError('INVALID_UPSTREAM_URL', `invalid --upstream: ${why} (expected postgres://user:password@host:port/dbname)`);
}

export function parseUpstreamUrl(text: string): UpstreamUrl {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw bad('not a URL');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') throw bad(`scheme must be postgres:// or postgresql://, not ${url.protocol}//`);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') throw bad('no host');
  const port = url.port === '' ? 5432 : Number(url.port);
  const user = decodeURIComponent(url.username);
  if (user === '') throw bad('no user name');
  const password = url.password === '' ? undefined : decodeURIComponent(url.password);
  const dbname = decodeURIComponent(url.pathname.replace(/^\//, '')) || user;
  if (dbname.includes('/')) throw bad('the database name may not contain "/"');
  const sslmode = url.searchParams.get('sslmode') ?? 'prefer';
  if (!(SSLMODES as readonly string[]).includes(sslmode)) throw bad(`unknown sslmode ${JSON.stringify(sslmode)}`);
  for (const key of url.searchParams.keys()) {
    if (key !== 'sslmode') throw bad(`unsupported parameter ${JSON.stringify(key)}; only sslmode is understood`);
  }
  return { host, port, user, password, dbname, tlsMode: sslmode as TlsMode };
}
