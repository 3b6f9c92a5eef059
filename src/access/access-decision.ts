/**
 * Which rule applies to a login and what it asks for: the first matching rule, then the
 * certificate identity check (CN = role, or the rule's identity map), then the password
 * exchange the method needs. Refusals are FATAL 28000 worded as PostgreSQL words its own.
 *
 * The identity check applies when the rule's method is `cert` or `cert+scram-sha-256`, when
 * an hba line says clientcert=verify-full, and always in tls.mode verify-full (which acts as
 * PostgreSQL's clientcert=verify-full on every rule).
 */
import { PgmoatError } from '../util/errors.js';
import { findRule, passwordMethodOf, type AccessFacts, type AccessRule, type PasswordMethod } from '../auth/rules.js';
import { mapAllows } from '../auth/ident-map.js';
import type { TlsMode } from '../tls/tls-mode.js';
import type { AccessRuntime } from '../runtime/access-runtime.js';

export interface AccessDecision {
  rule: AccessRule;
  /** The exchange to run with the client before AuthenticationOk; undefined: none. */
  password: PasswordMethod | undefined;
}

function refused(code: 'NO_RULE' | 'RULE_REJECTS' | 'CLIENT_CERT_REQUIRED' | 'CERT_ROLE_MISMATCH', message: string, hint?: string): PgmoatError {
  return new PgmoatError(code, message, hint ? { hint } : {});
}

function connectionText(f: AccessFacts): string {
  return `host "${f.address}", user "${f.role}", database "${f.database}", ${f.tls ? 'SSL encryption' : 'no encryption'}`;
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
    if (rule.map !== undefined) {
      if (!mapAllows(access.identMaps, rule.map, identity.cn, facts.role)) {
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
