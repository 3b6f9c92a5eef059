/**
 * Reads pgmoat.yaml: YAML syntax, then the schema with file checks, and reports every problem
 * at once, one per line, each naming the file and the key path.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { PgmoatError } from '../util/errors.js';
import { fileProblem } from '../util/file-problem.js';
import { formatPath } from './describe.js';
import { fallbackMessage, formatIssues } from './issues.js';
import { buildConfigSchema, type Config } from './schema.js';

export interface LoadedConfig {
  config: Config;
  /** The config file as given (used to label messages). */
  path: string;
  /** The absolute directory relative paths were resolved against. */
  dir: string;
}

export interface ParseOptions {
  /** Shown at the start of each problem line; usually the path the user typed. */
  path: string;
  /** Directory relative paths resolve against. */
  dir: string;
  /** Where password_env variables are looked up. Default: process.env. */
  env?: Readonly<Record<string, string | undefined>>;
}

/** CONFIG_INVALID with every problem found; `problems` holds the same lines as the message. */
export class ConfigInvalidError extends PgmoatError {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super('CONFIG_INVALID', problems.join('\n'));
    this.name = 'ConfigInvalidError';
    this.problems = problems;
  }
}

/**
 * Turns the YAML's maps into plain objects, refusing what a config never holds.
 * `key:` with nothing after it is null in YAML: read it as "not set", except directly under
 * databases/users, where `app:` alone means "an entry with no settings" (so the message
 * becomes "databases.app.host: is required" rather than a confusing type error).
 * Maps come from the parser as Map so that a key named __proto__ is seen, not swallowed.
 */
function toPlain(value: unknown, path: PropertyKey[], problems: string[], label: string): unknown {
  if (Array.isArray(value)) return value.map((v, i) => toPlain(v, [...path, i], problems, label));
  if (value instanceof Map) {
    const out: Record<string, unknown> = {};
    const parentKey = path.length === 1 ? path[0] : undefined;
    for (const [rawKey, v] of value) {
      const key = String(rawKey);
      if (key === '__proto__') {
        problems.push(`${label}: ${formatPath([...path, key])}: this key name is not allowed`);
        continue;
      }
      if (v === null) {
        if (parentKey === 'databases' || parentKey === 'users') out[key] = {};
        continue;
      }
      out[key] = toPlain(v, [...path, key], problems, label);
    }
    return out;
  }
  if (typeof value === 'object' && value !== null) {
    problems.push(`${label}: ${formatPath(path)}: unsupported YAML value (use a plain string, number, list or mapping)`);
    return undefined;
  }
  return value;
}

function yamlProblems(text: string, label: string): { data: unknown; problems: string[] } {
  const doc = parseDocument(text, { prettyErrors: true, merge: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((err) => {
      const pos = err.linePos?.[0];
      const where = pos ? `${label}:${pos.line}:${pos.col}` : label;
      const first = (err.message.split('\n')[0] ?? err.message).replace(/ at line \d+, column \d+:?$/, '');
      return `${where}: YAML syntax error: ${first}`;
    });
    return { data: undefined, problems };
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100, mapAsMap: true });
  } catch (err) {
    return { data: undefined, problems: [`${label}: YAML error: ${(err as Error).message}`] };
  }
  if (data === null || data === undefined) return { data, problems: [`${label}: the file is empty`] };
  if (!(data instanceof Map)) return { data, problems: [`${label}: expected a mapping (key: value) at the top level`] };
  const problems: string[] = [];
  const plain = toPlain(data, [], problems, label);
  return { data: plain, problems };
}

/** Validates config text. Throws ConfigInvalidError (code CONFIG_INVALID) listing every problem. */
export function parseConfig(text: string, options: ParseOptions): LoadedConfig {
  const label = options.path;
  const dir = resolve(options.dir);
  const { data, problems } = yamlProblems(text, label);
  if (problems.length > 0) throw new ConfigInvalidError(problems);
  const schema = buildConfigSchema({ dir, env: options.env ?? process.env });
  const result = schema.safeParse(data, { reportInput: true, error: fallbackMessage });
  if (!result.success) throw new ConfigInvalidError(formatIssues(result.error.issues, schema, label));
  return { config: result.data, path: options.path, dir };
}

/** Reads and validates the config file; relative paths in it resolve against its directory. */
export async function loadConfig(path: string, env?: Readonly<Record<string, string | undefined>>): Promise<LoadedConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const hint = (err as NodeJS.ErrnoException).code === 'ENOENT' ? '; check the path (pgmoat init --dir DIR writes a starter DIR/pgmoat.yaml)' : '';
    throw new PgmoatError('CONFIG_UNREADABLE', `cannot read config file ${path}: ${fileProblem(err)}${hint}`, { cause: err });
  }
  return parseConfig(text, env === undefined ? { path, dir: dirname(resolve(path)) } : { path, dir: dirname(resolve(path)), env });
}
