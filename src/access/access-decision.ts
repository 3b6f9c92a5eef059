/**
 * Which rule applies to a login and what it asks for: the first matching rule, then the
 * certificate identity check (CN = role, or the rule's identity map), then the password
 * exchange the method needs. Refusals are FATAL 28000 worded as PostgreSQL words its own.
 *
 * The identity check applies when the rule's method is `cert` or `cert+scram-sha-256`, when
 * an hba line says clientcert=verify-full, and always in tls.mode verify-full (which acts as
 * PostgreSQL's clientcert=verify-full on every rule).
 *
 * A certificate without CN (SAN identity only, as SPIRE issues them) has nothing to compare with
 * the role: it passes the identity check only through the rule's identity map, whose uri:/dns:
 * entries say which roles its SANs may use. Without a map it is refused (CERT_SAN_UNMAPPED),
 * never let through to whatever role it asked for.
 */
import { PgmoatError } from '../util/errors.js';
import { findRule, passwordMethodOf, type AccessFacts, type AccessIdentity, type AccessRule, type PasswordMethod } from '../auth/rules.js';
import { mapAllowsNames } from '../auth/ident-map.js';
import type { TlsMode } from '../tls/tls-mode.js';
import type { AccessRuntime } from '../runtime/access-runtime.js';

export interface AccessDecision {
  rule: AccessRule;
  /** The exchange to run with the client before AuthenticationOk; undefined: none. */
  password: PasswordMethod | undefined;
}

type DecisionCode = 'NO_RULE' | 'RULE_REJECTS' | 'CLIENT_CERT_REQUIRED' | 'CERT_ROLE_MISMATCH' | 'CERT_SAN_UNMAPPED' | 'CERT_SAN_ROLE_MISMATCH';

function refused(code: DecisionCode, message: string, hint?: string): PgmoatError {
  return new PgmoatError(code, message, hint ? { hint } : {});
}

function connectionText(f: AccessFacts): string {
  return `host "${f.address}", user "${f.role}", database "${f.database}", ${f.tls ? 'SSL encryption' : 'no encryption'}`;
}

/** The SANs of a certificate for a message: `uri:"spiffe://..."`, at most three. */
function sanText(identity: AccessIdentity): string {
  const all = [...(identity.uris ?? []).map((u) => `uri:${JSON.stringify(u)}`), ...(identity.dnsNames ?? []).map((d) => `dns:${JSON.stringify(d)}`)];
  const shown = all.slice(0, 3).join(', ');
  return all.length > 3 ? `${shown} and ${all.length - 3} more` : shown || 'no names';
}

export function decideAccess(access: AccessRuntime, mode: TlsMode, facts: AccessFacts): AccessDecision {
  const rule = findRule(access.rules, facts);
  if (!rule) {
    throw refused('NO_RULE', `no pgmoat access rule for ${connectionText(facts)}`, `No entry of ${access.sourceLabel} matches this connection.`);
  }
  if (rule.method === 'reject') {
    throw refused('RULE_REJECTS', `pgmoat access rules reject connection for ${connectionText(facts)}`);
  }
  const identity = facts.identity;
  if ((rule.certificateRequired || rule.identityCheck) && !identity) {
    throw refused('CLIENT_CERT_REQUIRED', 'connection requires a valid client certificate');
  }
  if (identity && (rule.identityCheck || mode === 'verify-full')) {
    const names = { cn: identity.cn, uris: identity.uris, dnsNames: identity.dnsNames };
    if (identity.cn === undefined) {
      const shown = sanText(identity);
      if (rule.map === undefined) {
        throw refused(
          'CERT_SAN_UNMAPPED',
          `certificate authentication failed for user "${facts.role}": the certificate has no common name, only ${shown}, and ${rule.label} has no identity map`,
          'Give the rule a map: whose uri: or dns: entries say which roles these names may use.',
        );
      }
      if (!mapAllowsNames(access.identMaps.get(rule.map) ?? [], names, facts.role)) {
        throw refused(
          'CERT_SAN_ROLE_MISMATCH',
          `certificate authentication failed for user "${facts.role}": identity map "${rule.map}" does not let ${shown} use this role`,
        );
      }
    } else if (rule.map !== undefined) {
      if (!mapAllowsNames(access.identMaps.get(rule.map) ?? [], names, facts.role)) {
        throw refused(
          'CERT_ROLE_MISMATCH',
          `certificate authentication failed for user "${facts.role}": identity map "${rule.map}" does not let certificate "${identity.cn}" use this role`,
        );
      }
    } else if (identity.cn !== facts.role) {
      throw refused(
        'CERT_ROLE_MISMATCH',
        `certificate authentication failed for user "${facts.role}": the certificate was issued for "${identity.cn}"`,
        `Connect as user "${identity.cn}", or use a certificate issued for "${facts.role}".`,
      );
    }
  }
  return { rule, password: passwordMethodOf(rule.method) };
}
