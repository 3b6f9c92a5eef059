/**
 * Identity maps written inline in pgmoat.yaml (`ident_maps:`), turned into the same entries a
 * pg_ident.conf file gives (ident-map.ts), so that one matcher serves both:
 *
 *   ident_maps:
 *     apps:
 *       - { cn: billing, role: billing_ro }       # exact CN -> one role
 *       - { cn: '/^(.*)-ci$/', role: '\1' }       # regex with a capture -> substituted role
 *       - { cn: ops, role: all }                  # any role
 *     spiffe:
 *       - { uri: '/^spiffe://prod\.example/ns/prod/sa/([a-z_]+)$/', role: '\1' }   # URI SAN (SPIFFE ID)
 *       - { dns: api.prod.svc.cluster.local, role: api }                         # DNS SAN
 *
 * Each entry names exactly one of cn, uri and dns.
 * Role membership (`+role`) is refused: pgmoat does not know PostgreSQL's role graph.
 */
import { PgmoatError } from '../util/errors.js';
import type { IdentEntry, IdentMaps, IdentRole, IdentSystem } from './ident-map.js';
import { isRegexPattern } from './rules.js';

export interface IdentMapEntryConfig {
  cn?: string | undefined;
  uri?: string | undefined;
  dns?: string | undefined;
  role: string;
}

function invalid(message: string): PgmoatError {
  return new PgmoatError('IDENT_INVALID', message);
}

function compile(text: string, where: string): { pattern: string; regex: RegExp } {
  const pattern = text.slice(1, -1);
  try {
    return { pattern, regex: new RegExp(pattern) };
  } catch (err) {
    throw invalid(`${where}: invalid regular expression ${JSON.stringify(text)}: ${(err as Error).message}`);
  }
}

function captureGroups(regex: RegExp): number {
  return new RegExp(`${regex.source}|`).exec('')!.length - 1;
}

export function identEntryFromConfig(map: string, index: number, e: IdentMapEntryConfig): IdentEntry {
  const where = `ident_maps.${map}[${index}]`;
  const given = (['cn', 'uri', 'dns'] as const).filter((k) => e[k] !== undefined);
  if (given.length !== 1) throw invalid(`${where}.cn: name exactly one of cn, uri and dns`);
  const key = given[0]!;
  const text = e[key]!;
  let system: IdentSystem;
  let groups = 0;
  if (isRegexPattern(text)) {
    const { pattern, regex } = compile(text, `${where}.${key}`);
    system = { kind: 'regex', pattern, regex };
    groups = captureGroups(regex);
  } else {
    system = { kind: 'name', name: key === 'dns' ? text.toLowerCase() : text };
  }
  let role: IdentRole;
  if (e.role.includes('\\1')) {
    if (system.kind !== 'regex') throw invalid(`${where}.role: "\\1" needs a /regex/ in ${key}`);
    if (groups < 1) throw invalid(`${where}.role: the regular expression in ${key} has no capture group for "\\1"`);
    role = { kind: 'substitute', template: e.role };
  } else if (e.role === 'all') {
    role = { kind: 'all' };
  } else if (e.role.startsWith('+')) {
    throw invalid(`${where}.role: "+role" needs role membership, which pgmoat does not know; list the roles instead`);
  } else if (isRegexPattern(e.role)) {
    role = { kind: 'regex', ...compile(e.role, `${where}.role`) };
  } else {
    role = { kind: 'name', name: e.role };
  }
  return { line: index + 1, map, system, role, ...(key === 'cn' ? {} : { san: key }) };
}

export function identMapsFromConfig(maps: Readonly<Record<string, readonly IdentMapEntryConfig[]>>): IdentMaps {
  const out: IdentMaps = new Map();
  for (const [name, entries] of Object.entries(maps)) {
    out.set(
      name,
      entries.map((e, i) => identEntryFromConfig(name, i, e)),
    );
  }
  return out;
}

/** Refuses `+role` entries of a pg_ident.conf file, for the same reason as inline ones. */
export function assertNoGroupEntries(maps: IdentMaps, fileName: string): void {
  for (const entries of maps.values()) {
    for (const e of entries) {
      if (e.role.kind === 'group') {
        throw invalid(`${fileName} line ${e.line}: "+${e.role.role}" needs role membership, which pgmoat does not know; list the roles instead`);
      }
    }
  }
}

/** Both sources in one set of maps; a map name defined in both is an error (which one wins would be a guess). */
export function mergeIdentMaps(inline: IdentMaps, fromFile: IdentMaps | undefined, fileName: string): IdentMaps {
  if (!fromFile) return inline;
  const out: IdentMaps = new Map(fromFile);
  for (const [name, entries] of inline) {
    if (out.has(name)) throw invalid(`identity map "${name}" is defined both in ident_maps and in ${fileName}; keep one`);
    out.set(name, entries);
  }
  return out;
}
