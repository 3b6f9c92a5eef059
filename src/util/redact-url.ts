/** What `ca.store`, `--to` and `--store` take; error messages show it as the example. */
export const POSTGRES_URL_EXAMPLE = 'postgres://pgmoat@db.example.com/pgmoat?sslmode=verify-full';

/** A URL that parses and says postgres:// or postgresql:// (node-postgres takes both). */
export function isPostgresUrl(url: string): boolean {
  try {
    const { protocol } = new URL(url);
    return protocol === 'postgres:' || protocol === 'postgresql:';
  } catch {
    return false;
  }
}

/**
 * A connection URL as it may be printed or logged: its password (and a `password=` parameter)
 * replaced by ***. Anything that does not parse as a URL is not echoed at all, since it may be a
 * secret typed in the wrong place.
 */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    if (u.searchParams.has('password')) u.searchParams.set('password', '***');
    return u.toString().replace(/password=%2A%2A%2A/g, 'password=***').replace(/:%2A%2A%2A@/, ':***@');
  } catch {
    return '(unparseable store URL)';
  }
}
