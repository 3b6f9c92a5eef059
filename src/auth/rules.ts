/**
 * Access rules: an ordered list, first match wins, as pg_hba.conf. A rule matches on the
 * connection (TLS or plain, database, role, client address) and on the certificate identity
 * (CN, environment, URI and DNS SANs), and names a method. Rules come from `rules:` in pgmoat.yaml or from a
 * pg_hba.conf-format `hba_file:`; both compile to AccessRule here. Matching is pure: no I/O.
 */
import { PgmoatError } from '../util/errors.js';
import { cidrContains, parseCidr, type Cidr } from './cidr.js';
import type { HbaDatabase, HbaRule, HbaUser } from './hba-file.js';

export const ACCESS_METHODS = ['cert', 'scram-sha-256', 'cert+scram-sha-256', 'md5', 'password', 'trust', 'reject'] as const;
export type AccessMethod = (typeof ACCESS_METHODS)[number];
export const CONNECTION_TYPES = ['tls', 'plain', 'any'] as const;
export type ConnectionType = (typeof CONNECTION_TYPES)[number];
export type PasswordMethod = 'scram-sha-256' | 'md5' | 'password';

/** What is known about a connection when its rule is chosen (after the StartupMessage). */
export interface AccessFacts {
  tls: boolean;
  database: string;
  role: string;
  address: string;
  /** From a verified certificate only; undefined without one. */
  identity: AccessIdentity | undefined;
}

/** The names of a verified certificate the rules and identity maps can match on. */
export interface AccessIdentity {
  /** Undefined for a certificate that names only SANs (a SPIFFE X.509-SVID). */
  cn: string | undefined;
  environment: string | undefined;
  /** URI SANs (SPIFFE IDs...); absent means none. */
  uris?: readonly string[] | undefined;
  /** DNS SANs, lowercased; absent means none. */
  dnsNames?: readonly string[] | undefined;
}

/** Which SANs a `uri:`/`dns:` pattern is matched against. */
export type SanKind = 'uri' | 'dns';

export interface SanMatcher extends NameMatcher {
  readonly kind: SanKind;
}

export interface NameMatcher {
  /** As written (for messages). */
  readonly source: string;
  matches(value: string, facts: AccessFacts): boolean;
}

export interface AccessRule {
  /** Where it came from: `rules[2]`, `hba_file line 7`, `default rule`. */
  readonly label: string;
  readonly type: ConnectionType;
  /** Undefined: any. */
  readonly databases: readonly NameMatcher[] | undefined;
  readonly roles: readonly NameMatcher[] | undefined;
  readonly addresses: readonly Cidr[] | undefined;
  readonly cn: readonly NameMatcher[] | undefined;
  readonly environments: readonly string[] | undefined;
  /** `san:` patterns: the rule matches when one of them matches one SAN of its kind. Undefined: any. */
  readonly san: readonly SanMatcher[] | undefined;
  /**
   * `san_environment:` the environment a certificate WITHOUT one of its own (a SAN-only
   * certificate) counts as once this rule matched it, for environment-bound databases.
   */
  readonly sanEnvironment: string | undefined;
  readonly method: AccessMethod;
  /** Identity map that says which roles a certificate CN may use (else CN must equal the role). */
  readonly map: string | undefined;
  /** The CN must match the role (or map) even when the method is not cert (hba clientcert=verify-full). */
  readonly identityCheck: boolean;
  /** A verified client certificate is required (hba clientcert=verify-ca). */
  readonly certificateRequired: boolean;
}

function invalid(message: string): PgmoatError {
  return new PgmoatError('RULE_INVALID', message);
}

function globToRegExp(glob: string): RegExp {
  let re = '';
  for (const c of glob) {
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 's');
}

/** True for `/.../` text: a regular expression pattern. */
export function isRegexPattern(text: string): boolean {
  return text.length >= 2 && text.startsWith('/') && text.endsWith('/');
}

/**
 * `name` (exact), `/regex/` (JavaScript syntax, unanchored as in pg_hba.conf: write ^...$),
 * and with `glob`, `*` and `?` wildcards (anchored). Throws RULE_INVALID for a bad regex.
 */
export function compilePattern(text: string, opts: { glob: boolean }): NameMatcher {
  if (isRegexPattern(text)) {
    let regex: RegExp;
    try {
      regex = new RegExp(text.slice(1, -1));
    } catch (err) {
      throw invalid(`invalid regular expression ${JSON.stringify(text)}: ${(err as Error).message}`);
    }
    return { source: text, matches: (v) => regex.test(v) };
  }
  if (opts.glob && /[*?]/.test(text)) {
    const regex = globToRegExp(text);
    return { source: text, matches: (v) => regex.test(v) };
  }
  return { source: text, matches: (v) => v === text };
}

/**
 * A `san:` entry: `uri:<pattern>` or `dns:<pattern>`, the pattern as compilePattern reads it
 * (exact, `*`/`?` glob, or /regex/). DNS names compare without case: an exact or glob DNS pattern
 * is lowercased, the names are too (a /regex/ is used as written and sees lowercase names).
 */
export function compileSanPattern(text: string): SanMatcher {
  const m = /^(uri|dns):(.+)$/s.exec(text);
  if (!m) throw invalid(`invalid SAN pattern ${JSON.stringify(text)}: write uri:<pattern> or dns:<pattern>`);
  const kind = m[1] as SanKind;
  const pattern = m[2]!;
  const inner = compilePattern(kind === 'dns' && !isRegexPattern(pattern) ? pattern.toLowerCase() : pattern, { glob: true });
  return { kind, source: text, matches: inner.matches };
}

/** Whether one of the identity's SANs of the matcher's kind matches it. */
export function sanMatches(m: SanMatcher, identity: AccessIdentity, facts: AccessFacts): boolean {
  const values = (m.kind === 'uri' ? identity.uris : identity.dnsNames) ?? [];
  return values.some((v) => m.matches(v, facts));
}

/** What a `rules:` entry of pgmoat.yaml holds once the schema has checked it. */
export interface RuleConfig {
  type?: ConnectionType | undefined;
  databases?: readonly string[] | undefined;
  roles?: readonly string[] | undefined;
  address?: readonly string[] | undefined;
  cn?: readonly string[] | undefined;
  environment?: readonly string[] | undefined;
  san?: readonly string[] | undefined;
  san_environment?: string | undefined;
  method: AccessMethod;
  map?: string | undefined;
}

function names(list: readonly string[] | undefined): NameMatcher[] | undefined {
  if (list === undefined || list.includes('all')) return undefined;
  return list.map((n) => compilePattern(n, { glob: true }));
}

function compileRule(rc: RuleConfig, label: string): AccessRule {
  return {
    label,
    type: rc.type ?? 'any',
    databases: names(rc.databases),
    roles: names(rc.roles),
    addresses: rc.address?.map((a) => {
      try {
        return parseCidr(a, { allowBareAddress: true });
      } catch (err) {
        throw invalid(`${label}.address: ${(err as Error).message}`);
      }
    }),
    cn: rc.cn?.map((p) => compilePattern(p, { glob: true })),
    environments: rc.environment,
    san: rc.san?.map((p) => {
      try {
        return compileSanPattern(p);
      } catch (err) {
        throw invalid(`${label}.san: ${(err as Error).message}`);
      }
    }),
    sanEnvironment: rc.san_environment,
    method: rc.method,
    map: rc.map,
    identityCheck: rc.method === 'cert' || rc.method === 'cert+scram-sha-256',
    certificateRequired: rc.method === 'cert' || rc.method === 'cert+scram-sha-256',
  };
}

export function compileRules(rules: readonly RuleConfig[]): AccessRule[] {
  return rules.map((r, i) => compileRule(r, `rules[${i}]`));
}

/** The rule in force without `rules:` or `hba_file:` (see README "Access rules"). */
export function defaultRule(method: AccessMethod): AccessRule {
  const cert = method === 'cert';
  return {
    label: 'default rule',
    type: 'any',
    databases: undefined,
    roles: undefined,
    addresses: undefined,
    cn: undefined,
    environments: undefined,
    san: undefined,
    sanEnvironment: undefined,
    method,
    map: undefined,
    identityCheck: cert,
    certificateRequired: cert,
  };
}

// ---- pg_hba.conf ------------------------------------------------------------------------

function hbaDatabase(d: HbaDatabase, label: string): NameMatcher | 'all' {
  switch (d.kind) {
    case 'all':
      return 'all';
    case 'sameuser':
      return { source: 'sameuser', matches: (v, f) => v === f.role };
    case 'samerole':
      throw invalid(`${label}: "samerole" needs role membership, which pgmoat does not know; list the databases instead`);
    case 'replication':
      // pgmoat carries no replication connections: such a line never matches.
      return { source: 'replication', matches: () => false };
    case 'name':
      return { source: d.name, matches: (v) => v === d.name };
    case 'regex':
      return { source: `/${d.pattern}`, matches: (v) => d.regex.test(v) };
  }
}

function hbaUser(u: HbaUser, label: string): NameMatcher | 'all' {
  switch (u.kind) {
    case 'all':
      return 'all';
    case 'group':
      throw invalid(`${label}: "+${u.role}" needs role membership, which pgmoat does not know; list the roles instead`);
    case 'name':
      return { source: u.name, matches: (v) => v === u.name };
    case 'regex':
      return { source: `/${u.pattern}`, matches: (v) => u.regex.test(v) };
  }
}

function anyOrList(items: (NameMatcher | 'all')[]): NameMatcher[] | undefined {
  if (items.includes('all')) return undefined;
  return items as NameMatcher[];
}

/**
 * pg_hba rules as AccessRules. `local` lines never match a TCP gateway and are dropped;
 * anything whose meaning pgmoat cannot honour (role membership, clientname=DN) is refused.
 */
export function rulesFromHba(hba: readonly HbaRule[], fileName: string): AccessRule[] {
  const out: AccessRule[] = [];
  for (const h of hba) {
    const label = `${fileName} line ${h.line}`;
    if (h.connType === 'local') continue;
    if (h.options.clientname === 'DN') throw invalid(`${label}: clientname=DN is not supported; pgmoat maps the certificate CN`);
    const method: AccessMethod = h.method;
    const clientcert = h.options.clientcert;
    out.push({
      label,
      type: h.connType === 'hostssl' ? 'tls' : h.connType === 'hostnossl' ? 'plain' : 'any',
      databases: anyOrList(h.databases.map((d) => hbaDatabase(d, label))),
      roles: anyOrList(h.users.map((u) => hbaUser(u, label))),
      addresses: h.address && h.address.kind === 'cidr' ? [h.address.cidr] : undefined,
      cn: undefined,
      environments: undefined,
      san: undefined,
      sanEnvironment: undefined,
      method,
      map: h.options.map,
      identityCheck: method === 'cert' || clientcert === 'verify-full',
      certificateRequired: method === 'cert' || clientcert !== undefined,
    });
  }
  return out;
}

// ---- matching ---------------------------------------------------------------------------

function typeMatches(type: ConnectionType, tls: boolean): boolean {
  return type === 'any' || (type === 'tls') === tls;
}

function ruleMatches(rule: AccessRule, f: AccessFacts): boolean {
  if (!typeMatches(rule.type, f.tls)) return false;
  if (rule.databases && !rule.databases.some((m) => m.matches(f.database, f))) return false;
  if (rule.roles && !rule.roles.some((m) => m.matches(f.role, f))) return false;
  if (rule.addresses && !rule.addresses.some((c) => cidrContains(c, f.address))) return false;
  if (rule.cn) {
    const cn = f.identity?.cn;
    if (cn === undefined || !rule.cn.some((m) => m.matches(cn, f))) return false;
  }
  if (rule.environments) {
    const env = f.identity?.environment;
    if (f.identity === undefined || env === undefined || !rule.environments.includes(env)) return false;
  }
  if (rule.san) {
    const id = f.identity;
    if (id === undefined || !rule.san.some((m) => sanMatches(m, id, f))) return false;
  }
  return true;
}

/** The first rule that matches; undefined means: refuse. */
export function findRule(rules: readonly AccessRule[], facts: AccessFacts): AccessRule | undefined {
  return rules.find((r) => ruleMatches(r, facts));
}

/** The password exchange a method asks for, if any. */
export function passwordMethodOf(method: AccessMethod): PasswordMethod | undefined {
  switch (method) {
    case 'scram-sha-256':
    case 'cert+scram-sha-256':
      return 'scram-sha-256';
    case 'md5':
      return 'md5';
    case 'password':
      return 'password';
    case 'cert':
    case 'trust':
    case 'reject':
      return undefined;
  }
}
