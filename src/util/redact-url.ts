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
