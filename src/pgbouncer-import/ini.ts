/**
 * PgBouncer's ini format, as libusual's parse_ini_file reads it: `[section]`, `key = value`,
 * comment lines starting with `;` or `#` (not special later in a line, so a value keeps them),
 * `%include path`, keys of `[A-Za-z0-9_.*-]` or an SQL-quoted `"name"` (database names).
 * One file's text at a time; ini-files.ts follows the includes.
 *
 * Errors never quote the offending line: in [databases] it may carry a password.
 */
import { PgmoatError } from '../util/errors.js';

export type IniItem =
  | { kind: 'section'; name: string; line: number }
  | { kind: 'setting'; key: string; value: string; line: number }
  | { kind: 'include'; path: string; line: number };

const KEY_CHAR = /[A-Za-z0-9_.*-]/;
const SPACE = /[ \t\f\v\r]/;

function syntax(file: string, line: number, what: string): PgmoatError {
  return new PgmoatError('PGBOUNCER_INI_INVALID', `${file}:${line}: ${what}`);
}

/** `"my ""db"""` -> `my "db"`; returns the name and where it ends, or undefined when unterminated. */
function readQuotedKey(text: string, start: number): { key: string; end: number } | undefined {
  let key = '';
  let i = start + 1;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"') {
      if (text[i + 1] === '"') {
        key += '"';
        i += 2;
        continue;
      }
      return { key, end: i + 1 };
    }
    key += c;
    i++;
  }
  return undefined;
}

function parseSection(raw: string, file: string, line: number): IniItem {
  const close = raw.indexOf(']');
  if (close < 0) throw syntax(file, line, 'section header without "]"');
  const rest = raw.slice(close + 1).trim();
  if (rest !== '' && !rest.startsWith(';') && !rest.startsWith('#')) {
    throw syntax(file, line, 'unexpected text after the section header');
  }
  return { kind: 'section', name: raw.slice(1, close).trim(), line };
}

function parseInclude(raw: string, file: string, line: number): IniItem {
  const m = /^%include(?:[ \t]+(.*))?$/.exec(raw);
  if (!m) throw syntax(file, line, 'unknown directive (only %include is known)');
  const path = (m[1] ?? '').trim();
  if (path === '') throw syntax(file, line, '%include without a file name');
  return { kind: 'include', path, line };
}

function parseSetting(raw: string, file: string, line: number): IniItem {
  let key: string;
  let i: number;
  if (raw.startsWith('"')) {
    const q = readQuotedKey(raw, 0);
    if (!q) throw syntax(file, line, 'unterminated quoted name');
    key = q.key;
    i = q.end;
  } else {
    i = 0;
    while (i < raw.length && KEY_CHAR.test(raw[i]!)) i++;
    key = raw.slice(0, i);
  }
  while (i < raw.length && SPACE.test(raw[i]!)) i++;
  if (key === '' || raw[i] !== '=') throw syntax(file, line, 'expected "name = value"');
  const value = raw.slice(i + 1).trim();
  return { kind: 'setting', key, value, line };
}

/** Parses one file's text; throws PgmoatError PGBOUNCER_INI_INVALID naming the file and line. */
export function parseIni(text: string, file: string): IniItem[] {
  const items: IniItem[] = [];
  const lines = text.split('\n');
  lines.forEach((rawLine, index) => {
    const line = index + 1;
    const raw = rawLine.trim();
    if (raw === '' || raw.startsWith(';') || raw.startsWith('#')) return;
    if (raw.startsWith('[')) items.push(parseSection(raw, file, line));
    else if (raw.startsWith('%')) items.push(parseInclude(raw, file, line));
    else items.push(parseSetting(raw, file, line));
  });
  return items;
}
