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
  if (db.environment !== undefined && identity !== undefined && identity.environment !== db.environment) {
    throw refuse(
      'ENVIRONMENT_MISMATCH',
      `certificate for environment "${identity.environment ?? '(none)'}" may not connect to database "${database}", which requires environment "${db.environment}"`,
    );
  }
  const access = decideAccess(rc.access, mode, {
    tls: req.tls !== undefined,
    database,
    role,
    address: req.remoteAddress,
    identity: identity ? { cn: identity.cn, environment: identity.environment } : undefined,
  });
  const settings = settingsFromStartup(req.params);
  return { database, role, upstreamRole: db.user ?? role, identity, settings, password: access.password, rule: access.rule.label };
}
