/**
 * PgBouncer's auth_file (userlist.txt): one `"user" "secret"` pair per line, `""` for a quote
 * inside a field, the rest of the line ignored (as PgBouncer does), `;` or `#` comment lines.
 * The secret is classified as PostgreSQL classifies rolpassword: `md5` + 32 hex digits is an
 * md5 hash, a SCRAM verifier is a SCRAM secret, anything else is a cleartext password.
 * Errors name the line and never contain a secret.
 */
import { PgmoatError } from '../util/errors.js';
import { isMd5Hash } from './md5.js';
import { looksLikeScramSecret, parseScramSecret, type ScramSecret } from './scram-secret.js';

export type UserSecret =
  | { kind: 'plain'; value: string }
  | { kind: 'md5'; value: string }
  | { kind: 'scram'; value: string; secret: ScramSecret };

export interface UserlistParseOptions {
  /** Shown in error messages; default "userlist". */
  fileName?: string;
}

function lineError(file: string, line: number, what: string): PgmoatError {
  return new PgmoatError('USERLIST_INVALID', `${file} line ${line}: ${what}`);
}

/** Reads `"..."` starting at text[start] === '"'; returns the value and the index after it. */
function readQuoted(text: string, start: number): { value: string; end: number } | undefined {
  let value = '';
  let i = start + 1;
  for (;;) {
    const q = text.indexOf('"', i);
    if (q < 0) return undefined;
    value += text.slice(i, q);
    if (text[q + 1] === '"') {
      value += '"';
      i = q + 2;
      continue;
    }
    return { value, end: q + 1 };
  }
}

/** Classifies a secret as PostgreSQL would; throws a message (without the secret) when malformed. */
export function classifySecret(value: string): UserSecret {
  if (isMd5Hash(value)) return { kind: 'md5', value };
  if (looksLikeScramSecret(value)) return { kind: 'scram', value, secret: parseScramSecret(value) };
  return { kind: 'plain', value };
}

export function parseUserlist(text: string, options: UserlistParseOptions = {}): Map<string, UserSecret> {
  const file = options.fileName ?? 'userlist';
  const users = new Map<string, UserSecret>();
  const lines = text.replace(/^\uFEFF/, '').split('\n');
  lines.forEach((raw, index) => {
    const lineNo = index + 1;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const start = line.search(/\S/);
    if (start < 0 || line[start] === ';' || line[start] === '#') return;
    if (line[start] !== '"') throw lineError(file, lineNo, 'expected a double-quoted user name');
    const user = readQuoted(line, start);
    if (!user) throw lineError(file, lineNo, 'the user name has no closing double quote');
    if (user.value === '') throw lineError(file, lineNo, 'the user name is empty');
    const next = line.slice(user.end).search(/\S/);
    if (next < 0) throw lineError(file, lineNo, 'the secret is missing (expected "user" "secret")');
    const secretStart = user.end + next;
    if (line[secretStart] !== '"') throw lineError(file, lineNo, 'expected a double-quoted secret after the user name');
    const secret = readQuoted(line, secretStart);
    if (!secret) throw lineError(file, lineNo, 'the secret has no closing double quote');
    let classified: UserSecret;
    try {
      classified = classifySecret(secret.value);
    } catch (err) {
      // parseScramSecret's message names the broken part, not its content.
      const reason = err instanceof PgmoatError ? err.message : 'malformed SCRAM secret';
      throw lineError(file, lineNo, `the secret looks like a SCRAM verifier but is not valid (${reason})`);
    }
    // A later line for the same user replaces an earlier one, as in PgBouncer.
    users.set(user.value, classified);
  });
  return users;
}

export function quoteUserlistField(value: string): string {
  return `"${value.replace(/"/g, '""')}"`;
}

/** Writes entries in the same format, one per line. */
export function formatUserlist(entries: Iterable<readonly [string, string | UserSecret]>): string {
  let out = '';
  for (const [user, secret] of entries) {
    const value = typeof secret === 'string' ? secret : secret.value;
    if (/[\r\n]/.test(user) || /[\r\n]/.test(value)) {
      throw new PgmoatError('USERLIST_INVALID', 'a userlist entry cannot contain a line break');
    }
    out += `${quoteUserlistField(user)} ${quoteUserlistField(value)}\n`;
  }
  return out;
}
