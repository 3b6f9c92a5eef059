/**
 * pg_ident.conf-format identity maps: `map-name system-username pg-username` per line.
 * A system name starting with '/' is a regular expression (JavaScript syntax, unanchored
 * like PostgreSQL's: write ^...$); the first `\1` in the pg-username is replaced by its
 * first capture group, and the result is compared literally. The pg-username may also be
 * `all`, `+role` (membership, supplied by the caller) or `/regex`.
 *
 * pgmoat's addition: an unquoted system name `uri:<name or /regex>` or `dns:<name or /regex>`
 * matches the certificate's URI or DNS subject alternative names instead of its CN, e.g.
 *
 *   spiffe   uri:/^spiffe://prod\.example/ns/prod/sa/([a-z_]+)$   \1
 *   k8s      dns:api.prod.svc.cluster.local                     api
 *
 * A quoted `"uri:x"` is still the literal CN `uri:x`. DNS names compare without case (the
 * certificate's are lowercased, so is an exact dns: name).
 */
import { PgmoatError } from '../util/errors.js';
import { ConfSyntaxError, showToken, tokenizeConf, type ConfField, type ConfToken } from './conf-tokenizer.js';

export type IdentSystem = { kind: 'name'; name: string } | { kind: 'regex'; pattern: string; regex: RegExp };
export type IdentRole =
  | { kind: 'all' }
  | { kind: 'name'; name: string }
  | { kind: 'group'; role: string }
  | { kind: 'regex'; pattern: string; regex: RegExp }
  /** `\1` substituted from the system-name regex. */
  | { kind: 'substitute'; template: string };

export interface IdentEntry {
  line: number;
  map: string;
  system: IdentSystem;
  role: IdentRole;
  /** Set for a `uri:`/`dns:` entry: which SANs the system name matches; absent: the CN. */
  san?: 'uri' | 'dns';
}

/** The names of a certificate an identity map can match: its CN and its SANs. */
export interface IdentNames {
  cn: string | undefined;
  uris?: readonly string[] | undefined;
  dnsNames?: readonly string[] | undefined;
}

/** Splits `uri:...`/`dns:...` off a system name; undefined for a CN entry. */
export function sanPrefix(text: string): { san: 'uri' | 'dns'; rest: string } | undefined {
  const m = /^(uri|dns):(.+)$/s.exec(text);
  return m ? { san: m[1] as 'uri' | 'dns', rest: m[2]! } : undefined;
}

/** Entries by map name, in file order. */
export type IdentMaps = Map<string, IdentEntry[]>;

export interface IdentMatchContext {
  isMember?: (user: string, role: string) => boolean;
}

class LineError extends Error {}

function fail(message: string): never {
  throw new LineError(message);
}

function single(field: ConfField | undefined, what: string): ConfToken {
  if (!field) fail(`end-of-line before ${what}`);
  if (field.length !== 1) fail(`multiple values in ident field (${what})`);
  return field[0]!;
}

function compile(token: ConfToken, text = token.value): { regex: RegExp; pattern: string } {
  const pattern = text.slice(1);
  try {
    return { pattern, regex: new RegExp(pattern) };
  } catch (err) {
    return fail(`invalid regular expression ${showToken(token)}: ${(err as Error).message}`);
  }
}

function captureGroups(regex: RegExp): number {
  // An alternation with the empty string always matches, and reports every group.
  return new RegExp(`${regex.source}|`).exec('')!.length - 1;
}

function parseEntry(line: number, fields: ConfField[]): IdentEntry {
  const mapToken = single(fields[0], 'map name');
  if (['include', 'include_if_exists', 'include_dir'].includes(mapToken.value) && !mapToken.quoted) {
    fail(`"${mapToken.value}" directives are not supported; put all mappings in one file`);
  }
  const systemToken = single(fields[1], 'system user name');
  const roleToken = single(fields[2], 'PostgreSQL user name');
  if (fields.length > 3) fail('extra fields after the PostgreSQL user name');
  if (mapToken.value === '') fail('empty map name');
  if (systemToken.value === '' || roleToken.value === '') fail('empty user name');

  let system: IdentSystem;
  let groups = 0;
  const prefixed = systemToken.quoted ? undefined : sanPrefix(systemToken.value);
  const systemText = prefixed?.rest ?? systemToken.value;
  if (systemText.startsWith('/')) {
    const { pattern, regex } = compile(systemToken, systemText);
    system = { kind: 'regex', pattern, regex };
    groups = captureGroups(regex);
  } else {
    system = { kind: 'name', name: prefixed?.san === 'dns' ? systemText.toLowerCase() : systemText };
  }

  let role: IdentRole;
  const r = roleToken.value;
  if (system.kind === 'regex' && r.includes('\\1')) {
    if (groups < 1) fail('regular expression has no capture group, but the PostgreSQL user name uses \\1');
    role = { kind: 'substitute', template: r };
  } else if (!roleToken.quoted && r === 'all') {
    role = { kind: 'all' };
  } else if (!roleToken.quoted && r.startsWith('+')) {
    if (r.length === 1) fail('"+" must be followed by a role name');
    role = { kind: 'group', role: r.slice(1) };
  } else if (r.startsWith('/')) {
    role = { kind: 'regex', ...compile(roleToken) };
  } else {
    role = { kind: 'name', name: r };
  }
  return { line, map: mapToken.value, system, role, ...(prefixed ? { san: prefixed.san } : {}) };
}

export function parseIdentFile(text: string, options: { fileName?: string } = {}): IdentMaps {
  const file = options.fileName ?? 'pg_ident.conf';
  const maps: IdentMaps = new Map();
  let line = 0;
  try {
    for (const record of tokenizeConf(text)) {
      line = record.line;
      const entry = parseEntry(record.line, record.fields);
      const list = maps.get(entry.map);
      if (list) list.push(entry);
      else maps.set(entry.map, [entry]);
    }
  } catch (err) {
    if (err instanceof ConfSyntaxError) throw new PgmoatError('IDENT_INVALID', `${file} line ${err.line}: ${err.message}`);
    if (err instanceof LineError) throw new PgmoatError('IDENT_INVALID', `${file} line ${line}: ${err.message}`);
    throw err;
  }
  return maps;
}

/** The names of a certificate an entry looks at: its CN, or its SANs of one kind. */
function candidates(entry: IdentEntry, names: IdentNames): readonly string[] {
  if (entry.san === 'uri') return names.uris ?? [];
  if (entry.san === 'dns') return names.dnsNames ?? [];
  return names.cn === undefined ? [] : [names.cn];
}

function entryAllows(entry: IdentEntry, identity: string, role: string, ctx: IdentMatchContext): boolean {
  let capture: string | undefined;
  if (entry.system.kind === 'regex') {
    const m = entry.system.regex.exec(identity);
    if (!m) return false;
    capture = m[1];
  } else if (entry.system.name !== identity) {
    return false;
  }
  const target = entry.role;
  switch (target.kind) {
    case 'all':
      return true;
    case 'name':
      return target.name === role;
    case 'substitute':
      // A group that took no part in the match substitutes nothing useful: no match.
      if (capture === undefined) return false;
      return target.template.replace('\\1', () => capture!) === role;
    case 'group':
      if (target.role === role) return true;
      if (!ctx.isMember) {
        throw new PgmoatError('IDENT_GROUP_UNRESOLVED', `ident map line ${entry.line} needs role membership ("+${target.role}"), and no membership lookup was provided`);
      }
      return ctx.isMember(role, target.role);
    case 'regex':
      return target.regex.test(role);
  }
}

/**
 * Whether one entry of the map lets one of the certificate's names use this role: CN entries
 * look at the CN, `uri:`/`dns:` entries at every SAN of their kind (any one that matches will
 * do, and its own capture fills `\1`). An unknown map allows nothing.
 */
export function mapAllowsNames(map: readonly IdentEntry[], names: IdentNames, role: string, ctx: IdentMatchContext = {}): boolean {
  return map.some((e) => candidates(e, names).some((n) => entryAllows(e, n, role, ctx)));
}

/** Whether any entry of the map looks at SANs (uri:/dns:). */
export function mapUsesSans(map: readonly IdentEntry[]): boolean {
  return map.some((e) => e.san !== undefined);
}

/**
 * Whether the map lets this identity (certificate CN or DN, OS user...) log in as this role.
 * `uri:`/`dns:` entries never match here: a bare string is a CN (see mapAllowsNames).
 * Accepts one map's entries, or all maps plus the map name. An unknown map allows nothing.
 */
export function mapAllows(map: readonly IdentEntry[], identity: string, role: string, ctx?: IdentMatchContext): boolean;
export function mapAllows(maps: IdentMaps, mapName: string, identity: string, role: string, ctx?: IdentMatchContext): boolean;
export function mapAllows(
  mapOrMaps: readonly IdentEntry[] | IdentMaps,
  a: string,
  b: string,
  c?: string | IdentMatchContext,
  d?: IdentMatchContext,
): boolean {
  if (mapOrMaps instanceof Map) {
    return mapAllowsNames(mapOrMaps.get(a) ?? [], { cn: b }, c as string, d ?? {});
  }
  return mapAllowsNames(mapOrMaps, { cn: a }, b, (c as IdentMatchContext | undefined) ?? {});
}
