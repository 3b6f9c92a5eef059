/**
 * The access part of pgmoat.yaml: `rules`, `hba_file`, `ident_maps`, `ident_file`, `auth_file`,
 * `auth_user`, `auth_query` and `limits`. docs/config-reference.md ("Access rules" and
 * "limits") describes each key.
 */
import { z } from 'zod';
import { ALWAYS, anyText, expecting, filePath, int, oneOf, pgName, problem, text, type FileContext } from './fields.js';
import { ACCESS_METHODS, CONNECTION_TYPES, compilePattern, compileSanPattern } from '../auth/rules.js';
import { parseCidr } from '../auth/cidr.js';
import { identEntryFromConfig } from '../auth/ident-config.js';

/** PgBouncer's default auth_query. */
const DEFAULT_AUTH_QUERY = 'SELECT usename, passwd FROM pg_shadow WHERE usename=$1';

/** A string or a list of strings; comes out as a list. */
function stringList() {
  return z.preprocess(
    (v) => (typeof v === 'string' ? [v] : v),
    z.array(text(), { error: expecting('expected a string or a list of strings') }).min(1, { error: 'expected at least one entry' }),
  );
}

function patternList(glob: boolean) {
  return stringList().superRefine((list, ctx) => {
    list.forEach((p, i) => {
      try {
        compilePattern(p, { glob });
      } catch (err) {
        ctx.addIssue(problem((err as Error).message, [i]));
      }
    });
  });
}

function sanPatternList() {
  return stringList().superRefine((list, ctx) => {
    list.forEach((p, i) => {
      try {
        compileSanPattern(p);
      } catch (err) {
        ctx.addIssue(problem((err as Error).message, [i]));
      }
    });
  });
}

export function cidrList() {
  return stringList().superRefine((list, ctx) => {
    list.forEach((a, i) => {
      try {
        parseCidr(a, { allowBareAddress: true });
      } catch (err) {
        ctx.addIssue(problem(`${(err as Error).message} (expected an address or a CIDR such as 10.0.0.0/8 or fd00::/8)`, [i]));
      }
    });
  });
}

function ruleSchema() {
  return z.strictObject(
    {
      type: oneOf(CONNECTION_TYPES).default('any'),
      databases: patternList(true).optional(),
      roles: patternList(true).optional(),
      address: cidrList().optional(),
      cn: patternList(true).optional(),
      environment: stringList().optional(),
      method: oneOf(ACCESS_METHODS),
      map: text().optional(),
      san: sanPatternList().optional(),
      san_environment: text().optional(),
    },
    { error: expecting('expected a mapping (key: value)') },
  );
}

function rulesSchema() {
  return z.array(ruleSchema(), { error: expecting('expected a list of rules') });
}

function identMapsSchema() {
  const entry = z.strictObject(
    { cn: text().optional(), uri: text().optional(), dns: text().optional(), role: text() },
    { error: expecting('expected a mapping with cn (or uri, or dns) and role') },
  );
  return z
    .record(z.string(), z.array(entry, { error: expecting('expected a list of { cn, role } entries') }), {
      error: expecting('expected a mapping of map names to lists of { cn, role }'),
    })
    .superRefine((maps, ctx) => {
      if (typeof maps !== 'object' || maps === null) return;
      for (const [name, entries] of Object.entries(maps)) {
        if (!Array.isArray(entries)) continue;
        entries.forEach((e, i) => {
          if (typeof e?.role !== 'string') return;
          try {
            identEntryFromConfig(name, i, e);
          } catch (err) {
            // The message starts with its key path (ident_maps.m[0].role: ...): move that into the issue path.
            const m = /^ident_maps\..*\[\d+\]\.(cn|uri|dns|role): (.*)$/s.exec((err as Error).message);
            ctx.addIssue(m ? problem(m[2]!, [name, i, m[1]!]) : problem((err as Error).message, [name, i]));
          }
        });
      }
    }, ALWAYS);
}

function limitsSchema() {
  return z.strictObject(
    {
      handshakes_per_second: int(0).default(0),
      handshakes_per_second_per_address: int(0).default(0),
      connections_per_identity: int(0).default(0),
      connections_per_address: int(0).default(0),
    },
    { error: expecting('expected a mapping (key: value)') },
  );
}

/** The top-level keys this file adds, spread into the config schema. */
export function accessShape(ctx: FileContext | undefined) {
  return {
    rules: rulesSchema().optional(),
    hba_file: filePath(ctx, 'file').optional(),
    ident_maps: identMapsSchema().default({}),
    ident_file: filePath(ctx, 'file').optional(),
    auth_file: filePath(ctx, 'password file').optional(),
    auth_user: pgName().optional(),
    auth_query: anyText().default(DEFAULT_AUTH_QUERY),
    limits: limitsSchema().prefault({}),
  };
}

interface AccessView {
  rules?: { method?: unknown; map?: unknown; cn?: unknown; environment?: unknown; san?: unknown; san_environment?: unknown }[] | undefined;
  hba_file?: unknown;
  ident_maps?: unknown;
  ident_file?: unknown;
  auth_file?: unknown;
  auth_user?: unknown;
  auth_query?: unknown;
  tls?: { mode?: unknown } | undefined;
}

const CERT_METHODS: readonly unknown[] = ['cert', 'cert+scram-sha-256'];
const PASSWORD_METHODS: readonly unknown[] = ['scram-sha-256', 'cert+scram-sha-256', 'md5', 'password'];

/** Checks across keys: what a rule needs must exist elsewhere in the file. */
export function accessProblems(config: AccessView, rctx: z.RefinementCtx): void {
  const mode = config.tls?.mode;
  const certsAsked = mode === 'verify-ca' || mode === 'verify-full';
  if (config.rules !== undefined && config.hba_file !== undefined) {
    rctx.addIssue(problem('rules and hba_file are mutually exclusive: keep one', ['hba_file']));
  }
  if (config.auth_user !== undefined && typeof config.auth_query === 'string' && !config.auth_query.includes('$1')) {
    rctx.addIssue(problem('must use $1 for the role name', ['auth_query']));
  }
  if (!Array.isArray(config.rules)) return;
  const maps = typeof config.ident_maps === 'object' && config.ident_maps !== null ? config.ident_maps : {};
  config.rules.forEach((rule, i) => {
    if (typeof rule !== 'object' || rule === null) return;
    if (CERT_METHODS.includes(rule.method) && !certsAsked) {
      rctx.addIssue(problem(`method ${String(rule.method)} needs a client certificate, which tls.mode ${String(mode)} does not ask for (use verify-ca or verify-full)`, ['rules', i, 'method']));
    }
    if (rule.san_environment !== undefined && rule.san === undefined) {
      rctx.addIssue(problem('applies only to certificates this rule matched by their SANs: add san:', ['rules', i, 'san_environment']));
    }
    for (const key of ['cn', 'environment', 'san'] as const) {
      if (rule[key] !== undefined && !certsAsked) {
        rctx.addIssue(problem(`matches on the client certificate, which tls.mode ${String(mode)} does not ask for (use verify-ca or verify-full)`, ['rules', i, key]));
      }
    }
    if (PASSWORD_METHODS.includes(rule.method) && config.auth_file === undefined && config.auth_user === undefined) {
      rctx.addIssue(problem(`method ${String(rule.method)} needs client secrets: set auth_file (a PgBouncer userlist.txt) or auth_user (auth_query)`, ['rules', i, 'method']));
    }
    if (typeof rule.map === 'string') {
      if (!Object.hasOwn(maps, rule.map) && config.ident_file === undefined) {
        rctx.addIssue(problem(`no identity map "${rule.map}" in ident_maps`, ['rules', i, 'map']));
      }
      if (!CERT_METHODS.includes(rule.method) && mode !== 'verify-full') {
        rctx.addIssue(problem(`a map is used only where the certificate identity is checked: with method cert or cert+scram-sha-256, or tls.mode verify-full`, ['rules', i, 'map']));
      }
    }
  });
}
