/**
 * The admin console's grammar, PgBouncer's: SHOW <what>, RELOAD, PAUSE/RESUME/RECONNECT/KILL
 * [db], DISABLE/ENABLE db, WAIT_CLOSE [db], SUSPEND, SET key = value, SHUTDOWN. One Query message may hold several statements separated by semicolons; quotes
 * and comments are respected when splitting. Database names are taken as written (unquoted or
 * "double quoted", PgBouncer does not fold case either).
 */
import { PgmoatError } from '../util/errors.js';

export const SHOW_TOPICS = ['POOLS', 'CLIENTS', 'SERVERS', 'STATS', 'DATABASES', 'CONFIG', 'VERSION', 'IDENTITIES', 'HELP', 'CERTS', 'CRL', 'USERS', 'LISTS', 'DNS_HOSTS'] as const;
export type ShowTopic = (typeof SHOW_TOPICS)[number];

export type PoolVerb = 'PAUSE' | 'RESUME' | 'RECONNECT' | 'KILL';
const POOL_VERBS: readonly string[] = ['PAUSE', 'RESUME', 'RECONNECT', 'KILL'];

export type AdminCommand =
  | { kind: 'show'; topic: ShowTopic }
  | { kind: 'reload' }
  | { kind: 'shutdown' }
  | { kind: 'pool'; verb: PoolVerb; database: string | undefined }
  | { kind: 'database'; verb: DatabaseVerb; database: string }
  | { kind: 'wait_close'; database: string | undefined }
  | { kind: 'suspend' }
  /** `value` as written, quotes removed: live-settings.ts converts and validates it. */
  | { kind: 'set'; key: string; value: string };

export type DatabaseVerb = 'DISABLE' | 'ENABLE';

const MAX_ECHO = 60;

function syntaxError(message: string, hint?: string): PgmoatError {
  return new PgmoatError('ADMIN_SYNTAX', message, { severity: 'ERROR', ...(hint ? { hint } : {}) });
}

function echo(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length > MAX_ECHO ? `${oneLine.slice(0, MAX_ECHO)}...` : oneLine;
}

/** Statements of one Query message; comments become spaces, empty statements are dropped. */
export function splitStatements(sql: string): string[] {
  const out: string[] = [];
  let cur = '';
  let i = 0;
  while (i < sql.length) {
    const ch = sql[i]!;
    if (ch === "'" || ch === '"') {
      const close = closingQuote(sql, i);
      const end = close < 0 ? sql.length : close; // unterminated: the tokenizer reports it
      cur += sql.slice(i, end);
      i = end;
    } else if (ch === '-' && sql[i + 1] === '-') {
      const nl = sql.indexOf('\n', i);
      i = nl < 0 ? sql.length : nl + 1;
      cur += ' ';
    } else if (ch === '/' && sql[i + 1] === '*') {
      const close = sql.indexOf('*/', i + 2);
      i = close < 0 ? sql.length : close + 2;
      cur += ' ';
    } else if (ch === ';') {
      if (cur.trim() !== '') out.push(cur.trim());
      cur = '';
      i++;
    } else {
      cur += ch;
      i++;
    }
  }
  if (cur.trim() !== '') out.push(cur.trim());
  return out;
}

/** Index just past the quote that closes the one at `start` (a doubled quote is an escaped one); -1 if none does. */
function closingQuote(s: string, start: number): number {
  const q = s[start]!;
  let i = start + 1;
  while (i < s.length) {
    if (s[i] === q) {
      if (s[i + 1] === q) {
        i += 2;
        continue;
      }
      return i + 1;
    }
    i++;
  }
  return -1;
}

/** Words of a statement: bare words split on whitespace, or "double quoted" identifiers. */
export function tokenize(stmt: string): { text: string; quoted: boolean }[] {
  const out: { text: string; quoted: boolean }[] = [];
  let i = 0;
  while (i < stmt.length) {
    const ch = stmt[i]!;
    if (/\s/.test(ch)) {
      i++;
      continue;
    }
    if (ch === '"') {
      const end = closingQuote(stmt, i);
      if (end < 0) throw syntaxError('unterminated quoted identifier');
      if (end === i + 2) throw syntaxError('zero-length delimited identifier');
      out.push({ text: stmt.slice(i + 1, end - 1).replace(/""/g, '"'), quoted: true });
      i = end;
      continue;
    }
    if (ch === "'") throw syntaxError('string literals are not accepted here; quote a database name with double quotes');
    let j = i;
    while (j < stmt.length && !/\s/.test(stmt[j]!) && stmt[j] !== '"') j++;
    out.push({ text: stmt.slice(i, j), quoted: false });
    i = j;
  }
  return out;
}

const HELP_HINT = `Commands: SHOW ${SHOW_TOPICS.join('|')}; SET key = value; RELOAD; PAUSE [db]; RESUME [db]; RECONNECT [db]; KILL [db]; DISABLE db; ENABLE db; WAIT_CLOSE [db]; SUSPEND; SHUTDOWN.`;

// `SET key = value` or `SET key TO value`; keys are config keys (log.level has a dot).
const SET_RE = /^SET\s+([A-Za-z_][A-Za-z0-9_.]*)\s*(?:=|\sTO\s)\s*([\s\S]*)$/i;

/** The value of a SET: one 'quoted string' ('' is a quote) or one bare word. */
function setValue(raw: string, stmt: string): string {
  const text = raw.trim();
  if (text === '') throw syntaxError(`SET needs a value: ${echo(stmt)}`, "Write SET key = value (quote a value with spaces: 'DISCARD ALL').");
  if (text.startsWith("'")) {
    const end = closingQuote(text, 0);
    if (end < 0) throw syntaxError('unterminated quoted string');
    if (text.slice(end).trim() !== '') throw syntaxError(`SET takes one value: ${echo(stmt)}`);
    return text.slice(1, end - 1).replace(/''/g, "'");
  }
  if (/\s/.test(text)) throw syntaxError(`SET takes one value: ${echo(stmt)}`, "Quote a value with spaces: SET server_reset_query = 'DISCARD ALL'.");
  return text;
}

function parseSet(stmt: string): AdminCommand {
  const m = SET_RE.exec(stmt);
  if (!m) throw syntaxError(`invalid SET command: ${echo(stmt)}`, 'Write SET key = value; SHOW CONFIG lists the keys and which ones are changeable.');
  return { kind: 'set', key: m[1]!.toLowerCase(), value: setValue(m[2]!, stmt) };
}

export function parseCommand(stmt: string): AdminCommand {
  if (/^SET(\s|$)/i.test(stmt.trim())) return parseSet(stmt.trim());
  const words = tokenize(stmt);
  const first = words[0];
  if (!first) throw syntaxError('empty command', HELP_HINT);
  const verb = first.quoted ? '' : first.text.toUpperCase();
  if (verb === 'SHOW') {
    const topic = words[1];
    if (!topic || words.length > 2 || topic.quoted) throw syntaxError(`invalid SHOW command: ${echo(stmt)}`, HELP_HINT);
    const t = topic.text.toUpperCase();
    if (!(SHOW_TOPICS as readonly string[]).includes(t)) throw syntaxError(`unknown SHOW topic: ${echo(topic.text)}`, HELP_HINT);
    return { kind: 'show', topic: t as ShowTopic };
  }
  if (verb === 'RELOAD' || verb === 'SHUTDOWN' || verb === 'SUSPEND') {
    if (words.length > 1) throw syntaxError(`${verb} takes no argument`);
    return { kind: verb === 'RELOAD' ? 'reload' : verb === 'SHUTDOWN' ? 'shutdown' : 'suspend' };
  }
  if (verb === 'DISABLE' || verb === 'ENABLE') {
    const db = words[1];
    if (!db || words.length > 2) throw syntaxError(`${verb} takes exactly one database name`, `Write ${verb} dbname.`);
    return { kind: 'database', verb, database: db.text };
  }
  if (verb === 'WAIT_CLOSE') {
    if (words.length > 2) throw syntaxError('WAIT_CLOSE takes at most one database name');
    return { kind: 'wait_close', database: words[1]?.text };
  }
  if (POOL_VERBS.includes(verb)) {
    if (words.length > 2) throw syntaxError(`${verb} takes at most one database name`);
    return { kind: 'pool', verb: verb as PoolVerb, database: words[1]?.text };
  }
  throw syntaxError(`unknown command: ${echo(stmt)}`, HELP_HINT);
}
