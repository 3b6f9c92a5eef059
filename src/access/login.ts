/**
 * The decision after a client's StartupMessage: which database and role, whether its
 * certificate identity may use them, and the welcome (AuthenticationOk, ParameterStatus,
 * BackendKeyData, ReadyForQuery). The access rules decide the rest (access-decision.ts).
 */
import type { LoginRequest } from '../accept/client-accept.js';
import { PgmoatError } from '../util/errors.js';
import { requiresClientCertificate } from '../tls/client-tls.js';
import type { PeerIdentity } from '../tls/peer-identity.js';
import type { RuntimeConfig } from '../runtime/runtime-config.js';
import { settingsFromStartup } from '../relay/param-sync.js';
import { assertNotRevoked } from '../revocation/session-enforcer.js';
import type { RevocationCheck } from '../revocation/source.js';
import type { PasswordMethod } from '../auth/rules.js';
import { decideAccess } from './access-decision.js';

export interface LoginDecision {
  database: string;
  role: string;
  upstreamRole: string;
  identity: PeerIdentity | undefined;
  settings: Map<string, string>;
  /** The password exchange the matching rule asks for (access-decision.ts). */
  password: PasswordMethod | undefined;
  /** Label of the matching access rule, for the audit log. */
  rule: string;
}

function refuse(code: 'UNKNOWN_DATABASE' | 'CLIENT_CERT_REQUIRED' | 'ENVIRONMENT_MISMATCH', message: string): PgmoatError {
  return new PgmoatError(code, message);
}

function environmentMismatch(environment: string | undefined, database: string, required: string, sanRule?: string): PgmoatError {
  const message = `certificate for environment "${environment ?? '(none)'}" may not connect to database "${database}", which requires environment "${required}"`;
  if (sanRule === undefined) return refuse('ENVIRONMENT_MISMATCH', message);
  // Trust never widens by accident: a certificate pgmoat did not issue (a SPIFFE ID, say) carries
  // no pgmoat environment, and reaches an environment-bound database only when its rule says which.
  return new PgmoatError('ENVIRONMENT_MISMATCH', message, {
    hint: `The certificate carries no pgmoat environment. If the certificates ${sanRule} matches by their SANs belong to "${required}", set san_environment: ${required} on it.`,
  });
}

export function decideLogin(rc: RuntimeConfig, req: LoginRequest, revocations: RevocationCheck): LoginDecision {
  const role = req.params.get('user')!;
  const database = req.params.get('database') || role;
  const db = Object.hasOwn(rc.config.databases, database) ? rc.config.databases[database] : undefined;
  if (!db) throw refuse('UNKNOWN_DATABASE', `no such database: "${database}"`);
  const mode = rc.config.tls.mode;
  const identity = req.certCheck?.ok ? req.certCheck.identity : undefined;
  if (requiresClientCertificate(mode) && !identity) throw refuse('CLIENT_CERT_REQUIRED', 'connection requires a valid client certificate');
  // A source may have revoked it since the handshake (the CRL watch, a reload).
  assertNotRevoked(revocations, identity);
  // A certificate for one environment never reaches a database of another, whatever the rules say.
  // A certificate without an environment of its own (SPIRE, cert-manager, Vault PKI: nothing
  // pgmoat wrote) may get one from the rule that matched it by its SANs (san_environment); only
  // then is its check left until the rule is known, so configurations without san_environment
  // refuse exactly as before.
  const deferred = identity !== undefined && identity.environment === undefined && rc.access.rules.some((r) => r.sanEnvironment !== undefined);
  if (db.environment !== undefined && identity !== undefined && !deferred && identity.environment !== db.environment) {
    throw environmentMismatch(identity.environment, database, db.environment);
  }
  const access = decideAccess(rc.access, mode, {
    tls: req.tls !== undefined,
    database,
    role,
    address: req.remoteAddress,
    identity: identity ? { cn: identity.cn, environment: identity.environment, uris: identity.uris, dnsNames: identity.dnsNames } : undefined,
  });
  if (db.environment !== undefined && deferred && access.rule.sanEnvironment !== db.environment) {
    throw environmentMismatch(access.rule.sanEnvironment, database, db.environment, access.rule.label);
  }
  const settings = settingsFromStartup(req.params);
  return { database, role, upstreamRole: db.user ?? role, identity, settings, password: access.password, rule: access.rule.label };
}
