/**
 * The client's own session settings (from its startup packet: application_name, search_path,
 * options -c ...) applied to whichever server connection it is given, with one internal query
 * whose results the client never sees.
 */
import { PgmoatError } from '../util/errors.js';
import { parseOptionsParameter } from '../protocol/startup.js';

/** Startup parameters that are not settings. */
const NOT_SETTINGS = new Set(['user', 'database', 'options', 'replication']);

/** The settings a startup packet asks for; `replication` is refused (a pooler cannot carry it). */
export function settingsFromStartup(params: ReadonlyMap<string, string>): Map<string, string> {
  const rep = params.get('replication');
  if (rep !== undefined && rep !== 'false' && rep !== 'off' && rep !== '0' && rep !== 'no') {
    throw new PgmoatError('REPLICATION_UNSUPPORTED', 'replication connections are not supported through pgmoat', {
      });
  }
  const out = new Map<string, string>();
  for (const [k, v] of params) if (!NOT_SETTINGS.has(k)) out.set(k, v);
  const options = params.get('options');
  if (options) for (const [k, v] of parseOptionsParameter(options)) out.set(k, v);
  return out;
}

/** A string literal that means the same whatever standard_conforming_strings is. */
function literal(s: string): string {
  return `E'${s.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
}

/** Case-insensitive lookup: ParameterStatus names (DateStyle, TimeZone) keep their case. */
function serverValue(serverParams: ReadonlyMap<string, string>, name: string): string | undefined {
  const direct = serverParams.get(name);
  if (direct !== undefined) return direct;
  const lower = name.toLowerCase();
  for (const [k, v] of serverParams) if (k.toLowerCase() === lower) return v;
  return undefined;
}

/**
 * One SQL statement setting every client setting whose value on the server is unknown or
 * different, or undefined when nothing needs setting.
 */
export function settingsQuery(wanted: ReadonlyMap<string, string>, serverParams: ReadonlyMap<string, string>): string | undefined {
  const calls: string[] = [];
  for (const [name, value] of wanted) {
    if (serverValue(serverParams, name) === value) continue;
    calls.push(`pg_catalog.set_config(${literal(name)}, ${literal(value)}, false)`);
  }
  return calls.length === 0 ? undefined : `SELECT ${calls.join(', ')}`;
}

/** The ParameterStatus values a client is told at login: the server's, overlaid with its own. */
export function welcomeParams(serverParams: ReadonlyMap<string, string>, wanted: ReadonlyMap<string, string>): Map<string, string> {
  const out = new Map(serverParams);
  for (const [name, value] of wanted) {
    if (out.has(name)) {
      out.set(name, value);
      continue;
    }
    const lower = name.toLowerCase();
    for (const k of out.keys()) {
      if (k.toLowerCase() === lower) out.set(k, value);
    }
  }
  return out;
}
