/**
 * The connection strings of PgBouncer's [databases] and [users] lines: `key=value` pairs
 * separated by spaces, libpq-style. A value may be single-quoted; inside quotes `\x` stands
 * for x (libpq) and `''` for one quote (PgBouncer's cstr_unquote_value); outside quotes a
 * backslash escapes the next character too (libpq).
 *
 * Messages name the key, never a value: `password=...` lives here.
 */
import { PgmoatError } from '../util/errors.js';

export interface ConnParam {
  key: string;
  value: string;
}

const WS = /[ \t\r\n\f\v]/;

function invalid(message: string): PgmoatError {
  return new PgmoatError('CONNSTRING_INVALID', message);
}

/** Reads a quoted value starting after the opening quote; returns the value and the index after the closing quote. */
function readQuoted(s: string, start: number, key: string): { value: string; next: number } {
  let value = '';
  let i = start;
  for (;;) {
    if (i >= s.length) throw invalid(`unterminated quoted value for "${key}"`);
    const c = s[i]!;
    if (c === '\\') {
      if (i + 1 >= s.length) throw invalid(`unterminated quoted value for "${key}"`);
      value += s[i + 1]!;
      i += 2;
    } else if (c === "'") {
      if (s[i + 1] === "'") {
        value += "'";
        i += 2;
      } else {
        return { value, next: i + 1 };
      }
    } else {
      value += c;
      i++;
    }
  }
}

function readBare(s: string, start: number): { value: string; next: number } {
  let value = '';
  let i = start;
  while (i < s.length && !WS.test(s[i]!)) {
    if (s[i] === '\\' && i + 1 < s.length) {
      value += s[i + 1]!;
      i += 2;
    } else {
      value += s[i]!;
      i++;
    }
  }
  return { value, next: i };
}

/** Parses a connection string into its pairs, in order (a repeated key appears twice). */
export function parseConnString(s: string): ConnParam[] {
  const params: ConnParam[] = [];
  let i = 0;
  const skipSpace = (): void => {
    while (i < s.length && WS.test(s[i]!)) i++;
  };
  for (;;) {
    skipSpace();
    if (i >= s.length) return params;
    const keyStart = i;
    while (i < s.length && s[i] !== '=' && !WS.test(s[i]!)) i++;
    const key = s.slice(keyStart, i);
    skipSpace();
    if (s[i] !== '=') throw invalid(`expected "=" after "${key}"`);
    if (key === '') throw invalid('a parameter name is missing before "="');
    i++;
    skipSpace();
    const r = s[i] === "'" ? readQuoted(s, i + 1, key) : readBare(s, i);
    if (s[i] !== "'" && r.value === '') throw invalid(`no value for "${key}"`);
    params.push({ key, value: r.value });
    i = r.next;
    if (i < s.length && !WS.test(s[i]!)) throw invalid(`unexpected text after the quoted value of "${key}"`);
  }
}
