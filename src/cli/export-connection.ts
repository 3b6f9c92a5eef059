/**
 * Where `pgmoat export --format env` points libpq: PGHOST, PGPORT, PGUSER, PGDATABASE, from the
 * flags, else from the gateway's config where the config leaves one answer. What it cannot decide
 * it leaves out and says why, so that a deployment never gets a guess.
 */
import { X509Certificate } from 'node:crypto';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { parseIdentityUri } from '../ca/identity-format.js';

export interface ConnectionFlags {
  host?: string | undefined;
  port?: string | undefined;
  user?: string | undefined;
  database?: string | undefined;
  config?: string | undefined;
}

export interface ConnectionTarget {
  /** The libpq variables decided, in the order they are written. */
  vars: [string, string][];
  /** One sentence per variable left out: why, and the flag that sets it. */
  undecided: string[];
}

/** The identity a certificate carries: its CN and its pgmoat://ENV/NAME environment, if any. */
function identityOf(certPem: string): { cn: string | undefined; environment: string | undefined } {
  const cert = new X509Certificate(certPem);
  const cn = /^CN=(.*)$/m.exec(cert.subject)?.[1];
  let environment: string | undefined;
  for (const part of (cert.subjectAltName ?? '').split(/,\s*/)) {
    if (part.startsWith('URI:')) environment ??= parseIdentityUri(part.slice(4))?.environment;
  }
  return { cn, environment };
}

/** A rule's name list that names exactly these values (no pattern, no `all`), else undefined. */
function literals(list: readonly string[] | undefined): string[] | undefined {
  if (list === undefined || list.some((n) => n === 'all' || /[*?]/.test(n) || (n.startsWith('/') && n.endsWith('/')))) return undefined;
  return [...list];
}

const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '*', '']);

function decideHost(config: Config | undefined): string | { why: string } {
  if (!config) return { why: 'no --host and no --config' };
  const host = config.listen.host;
  if (WILDCARD_HOSTS.has(host) || host.includes(',')) return { why: `listen.host is "${host}", which is not an address a client can dial` };
  return host;
}

/**
 * The role this identity logs in as, when the rules allow only one: the default rule (and any
 * `cert` rule without `map`) requires role = CN; a `map` rule allows the roles its map gives this
 * CN. Rules with password methods, role patterns, or an hba_file make it undecidable here.
 */
function decideUser(config: Config | undefined, id: { cn: string | undefined; environment: string | undefined }): string | { why: string } {
  if (!config) return { why: 'no --user and no --config' };
  if (id.cn === undefined) return { why: 'the certificate has no CN' };
  if (config.hba_file !== undefined) return { why: 'the config takes its rules from hba_file, which this command does not read' };
  const rules = config.rules;
  if (rules === undefined) {
    if (config.tls.mode === 'verify-full') return id.cn;
    return { why: `without rules, tls.mode ${config.tls.mode} does not tie the role to the certificate` };
  }
  const roles = new Set<string>();
  for (const [i, r] of rules.entries()) {
    if (r.type === 'plain' || r.method === 'reject') continue;
    if (r.environment !== undefined && (id.environment === undefined || !r.environment.includes(id.environment))) continue;
    if (r.cn !== undefined) {
      const cns = literals(r.cn);
      if (cns === undefined) return { why: `rules[${i}] matches CNs by pattern` };
      if (!cns.includes(id.cn)) continue;
    }
    if (r.san !== undefined) return { why: `rules[${i}] matches by SAN` };
    const listed = literals(r.roles);
    const anyRole = r.roles === undefined || r.roles.includes('all');
    if (!anyRole && listed === undefined) return { why: `rules[${i}] names roles by pattern` };
    if (r.method === 'cert' || r.method === 'cert+scram-sha-256') {
      const map = r.map === undefined ? undefined : (config.ident_maps[r.map] ?? []);
      if (map?.some((e) => e.cn === undefined || e.cn.startsWith('/'))) return { why: `ident map "${r.map}" matches by URI, DNS or pattern` };
      const allowed = map === undefined ? [id.cn] : map.filter((e) => e.cn === id.cn).map((e) => e.role);
      for (const role of allowed) if (anyRole || listed!.includes(role)) roles.add(role);
    } else {
      if (anyRole) return { why: `rules[${i}] (method ${r.method}) allows any role` };
      for (const role of listed!) roles.add(role);
    }
  }
  if (roles.size === 1) return [...roles][0]!;
  if (roles.size === 0) return { why: `no rule lets CN "${id.cn}"${id.environment ? ` (${id.environment})` : ''} log in` };
  return { why: `the rules allow several roles (${[...roles].sort().join(', ')})` };
}

/** The one database this identity's environment may use, by databases.<name>.environment. */
function decideDatabase(config: Config | undefined, environment: string | undefined): string | { why: string } {
  if (!config) return { why: 'no --database and no --config' };
  const names = Object.entries(config.databases)
    .filter(([, d]) => d.environment === undefined || d.environment === environment)
    .map(([name]) => name);
  if (names.length === 1) return names[0]!;
  if (names.length === 0) return { why: `no database of the config accepts environment "${environment ?? '(none)'}"` };
  return { why: `the config has several databases this certificate may use (${names.sort().join(', ')})` };
}

export async function connectionTarget(flags: ConnectionFlags, certPem: string): Promise<ConnectionTarget> {
  const config = flags.config === undefined ? undefined : (await loadConfig(flags.config)).config;
  const id = identityOf(certPem);
  const vars: [string, string][] = [];
  const undecided: string[] = [];
  const take = (name: string, flag: string, given: string | undefined, decide: () => string | { why: string }): void => {
    const value = given ?? decide();
    if (typeof value === 'string') vars.push([name, value]);
    else undecided.push(`${name} not written: ${value.why}; pass ${flag}`);
  };
  take('PGHOST', '--host HOST', flags.host, () => decideHost(config));
  take('PGPORT', '--port PORT', flags.port, () => (config ? String(config.listen.port) : { why: 'no --port and no --config' }));
  take('PGUSER', '--user ROLE', flags.user, () => decideUser(config, id));
  take('PGDATABASE', '--database NAME', flags.database, () => decideDatabase(config, id.environment));
  vars.push(['PGSSLMODE', 'verify-full']);
  return { vars, undecided };
}
