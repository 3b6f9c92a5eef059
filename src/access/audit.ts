/**
 * The audit trail: one JSON line (pino, the gateway's logger) per connection attempt, accepted
 * (`event: "login"`) or refused (`event: "login_refused"`), and one per session end
 * (`event: "session_end"`). Authentication failures carry `auth_failure: true` and a message
 * that starts with a fixed text followed by the source address, for fail2ban-like tools:
 *
 *   {"level":30,"time":...,"event":"login_refused",...,"msg":"authentication failure from 203.0.113.7: bad password"}
 *
 * The address comes before anything a client chose, so a crafted role name cannot put another
 * address where a filter looks. No secret is ever a field: only names, serials, fingerprints.
 */
import type { Logger } from 'pino';
import type { TLSSocket } from 'node:tls';
import type { CertCheck, CertRefusal } from '../tls/client-tls.js';
import type { UsageProblem } from '../tls/cert-usage.js';
import type { PeerIdentity } from '../tls/peer-identity.js';
import { isPgmoatError } from '../util/errors.js';
import type { UpstreamError } from '../upstream/connect.js';

export type AuditReason =
  | 'no certificate'
  | 'unknown CA'
  | 'expired'
  | 'not yet valid'
  | 'revoked'
  | 'not for client use'
  | 'CA certificate'
  | 'key usage without digital signature'
  | 'no extended key usage'
  | 'no identity'
  | 'invalid certificate'
  | 'environment mismatch'
  | 'no rule'
  | 'rule rejects'
  | 'identity not allowed for role'
  | 'not an admin identity'
  | 'bad password'
  | 'no password'
  | 'rate limited'
  | 'connection limit'
  | 'too many clients'
  | 'unknown database'
  | 'ssl required'
  | 'tls handshake failed'
  | 'login timeout'
  | 'protocol error'
  | 'upstream error'
  | 'internal error';

/** Refusals that mean "this client could not prove who it is": what fail2ban should count. */
const AUTH_FAILURES: ReadonlySet<AuditReason> = new Set<AuditReason>([
  'no certificate',
  'unknown CA',
  'expired',
  'not yet valid',
  'revoked',
  'not for client use',
  'CA certificate',
  'key usage without digital signature',
  'no extended key usage',
  'no identity',
  'invalid certificate',
  'environment mismatch',
  'no rule',
  'rule rejects',
  'identity not allowed for role',
  'not an admin identity',
  'bad password',
]);

export function isAuthFailure(reason: AuditReason): boolean {
  return AUTH_FAILURES.has(reason);
}

const CERT_REASONS: Record<CertRefusal, AuditReason> = {
  'no-certificate': 'no certificate',
  'unknown-ca': 'unknown CA',
  expired: 'expired',
  'not-yet-valid': 'not yet valid',
  revoked: 'revoked',
  'not-for-client-use': 'not for client use',
  'no-identity': 'no identity',
  invalid: 'invalid certificate',
};

/** The purpose check that refused a certificate "not for client use" (cert-usage.ts). */
const USAGE_REASONS: Record<UsageProblem, AuditReason> = {
  'ca-certificate': 'CA certificate',
  'no-digital-signature': 'key usage without digital signature',
  'no-extended-key-usage': 'no extended key usage',
  'no-client-auth': 'not for client use',
  unreadable: 'invalid certificate',
};

function certReason(check: Extract<CertCheck, { ok: false }>): AuditReason {
  return check.reason === 'not-for-client-use' && check.usage ? USAGE_REASONS[check.usage] : CERT_REASONS[check.reason];
}

const CODE_REASONS: Record<string, AuditReason> = {
  CLIENT_CERT_REQUIRED: 'no certificate',
  ENVIRONMENT_MISMATCH: 'environment mismatch',
  NO_RULE: 'no rule',
  RULE_REJECTS: 'rule rejects',
  CERT_ROLE_MISMATCH: 'identity not allowed for role',
  BAD_PASSWORD: 'bad password',
  AUTH_ABANDONED: 'no password',
  RATE_LIMITED: 'rate limited',
  CONNECTION_LIMIT: 'connection limit',
  TOO_MANY_CLIENTS: 'too many clients',
  UNKNOWN_DATABASE: 'unknown database',
  SSL_REQUIRED: 'ssl required',
  LOGIN_TIMEOUT: 'login timeout',
  AUTH_TIMEOUT: 'login timeout',
  AUTH_QUERY_FAILED: 'upstream error',
  ADMIN_NO_CERTIFICATE: 'no certificate',
  ADMIN_CERT_REVOKED: 'revoked',
  ADMIN_CERT_EXPIRED: 'expired',
  ADMIN_NOT_ALLOWED: 'not an admin identity',
  ADMIN_USER_MISMATCH: 'identity not allowed for role',
  TOO_MANY_ADMIN_SESSIONS: 'too many clients',
};

/** The audit reason of an error that refused a login. */
export function reasonOf(err: unknown, certCheck?: CertCheck): AuditReason {
  if (certCheck && !certCheck.ok && isPgmoatError(err) && err.code === 'CLIENT_CERT_REFUSED') return certReason(certCheck);
  if (isPgmoatError(err)) {
    if (err.code === 'CLIENT_CERT_REFUSED') return err.message.includes('revoked') ? 'revoked' : 'invalid certificate';
    const mapped = CODE_REASONS[err.code];
    if (mapped) return mapped;
    if ((err as UpstreamError).fields !== undefined || err.code.startsWith('UPSTREAM')) return 'upstream error';
    if (err.sqlstate === '08P01' || err.code.startsWith('SCRAM') || err.code.startsWith('BAD_')) return 'protocol error';
    return 'internal error';
  }
  return 'internal error';
}

/** What is known about a connection when its audit line is written; every field optional. */
export interface AuditSubject {
  remote: string;
  identity?: PeerIdentity | undefined;
  database?: string | undefined;
  role?: string | undefined;
  tls?: TLSSocket | undefined;
  /** Overrides what `tls` would tell (a session keeps what it recorded at login). */
  tlsVersion?: string | undefined;
  cipher?: string | undefined;
}

function fields(s: AuditSubject): Record<string, unknown> {
  return {
    remote: s.remote,
    cn: s.identity?.cn,
    environment: s.identity?.environment,
    serial: s.identity?.serial,
    fingerprint256: s.identity?.fingerprint256,
    database: s.database,
    role: s.role,
    tls: s.tlsVersion ?? s.tls?.getProtocol() ?? undefined,
    cipher: s.cipher ?? s.tls?.getCipher()?.name,
  };
}

export class Audit {
  constructor(private readonly log: Logger) {}

  accepted(s: AuditSubject, extra: { rule: string; method: string | undefined }): void {
    this.log.info({ event: 'login', audit: true, outcome: 'accepted', ...fields(s), rule: extra.rule, password: extra.method }, 'client logged in');
  }

  /** `message` is the FATAL the client was sent (it never contains a secret). */
  refused(s: AuditSubject, reason: AuditReason, message: string | undefined, extra: Record<string, unknown> = {}): void {
    const authFailure = isAuthFailure(reason);
    this.log.info(
      { event: 'login_refused', audit: true, outcome: 'refused', reason, auth_failure: authFailure, ...fields(s), error: message, ...extra },
      `${authFailure ? 'authentication failure' : 'connection refused'} from ${s.remote}: ${reason}`,
    );
  }

  sessionEnd(s: AuditSubject, end: { reason: string; durationMs: number; bytesIn: number; bytesOut: number; extra?: Record<string, unknown> }): void {
    this.log.info(
      {
        event: 'session_end',
        audit: true,
        outcome: 'ended',
        ...fields(s),
        reason: end.reason,
        duration_ms: end.durationMs,
        bytes_in: end.bytesIn,
        bytes_out: end.bytesOut,
        ...end.extra,
      },
      'session ended',
    );
  }
}
