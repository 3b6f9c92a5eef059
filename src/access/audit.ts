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
import type { CertCheck } from '../tls/client-tls.js';
import { sanList, type PeerIdentity } from '../tls/peer-identity.js';
import { certAuditReason, certRefusalOfCode, type CertAuditReason } from '../util/cert-refusal.js';
import type { ErrorCode } from '../util/error-codes.js';
import { isPgmoatError } from '../util/errors.js';
import { SqlState } from '../util/sqlstate.js';

/** Why a login was refused, as the audit line's `reason`: the certificate's (util/cert-refusal.ts) or the login's. */
export type AuditReason =
  | CertAuditReason
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

/** The reason of every code that refuses a login, other than the certificate's own. */
const CODE_REASONS: Partial<Record<ErrorCode, AuditReason>> = {
  ENVIRONMENT_MISMATCH: 'environment mismatch',
  NO_RULE: 'no rule',
  RULE_REJECTS: 'rule rejects',
  CERT_ROLE_MISMATCH: 'identity not allowed for role',
  CERT_SAN_UNMAPPED: 'identity not allowed for role',
  CERT_SAN_ROLE_MISMATCH: 'identity not allowed for role',
  BAD_PASSWORD: 'bad password',
  AUTH_ABANDONED: 'no password',
  CONNECTION_LIMIT: 'connection limit',
  TOO_MANY_CLIENTS: 'too many clients',
  TOO_MANY_ADMIN_SESSIONS: 'too many clients',
  UNKNOWN_DATABASE: 'unknown database',
  SSL_REQUIRED: 'ssl required',
  LOGIN_TIMEOUT: 'login timeout',
  AUTH_TIMEOUT: 'login timeout',
  ADMIN_NOT_ALLOWED: 'not an admin identity',
  ADMIN_USER_MISMATCH: 'identity not allowed for role',
  BAD_STARTUP: 'protocol error',
  BAD_OPTIONS: 'protocol error',
  UNSUPPORTED_STARTUP_OPTION: 'protocol error',
  UNSUPPORTED_PROTOCOL: 'protocol error',
  NO_USER: 'protocol error',
  PLAINTEXT_AFTER_SSLREQUEST: 'protocol error',
  DIRECT_TLS_WITHOUT_ALPN: 'protocol error',
  BAD_MESSAGE_LENGTH: 'protocol error',
  MESSAGE_TOO_LARGE: 'protocol error',
  BAD_MESSAGE_BODY: 'protocol error',
  BAD_AUTH_MESSAGE: 'protocol error',
  SCRAM_PROTOCOL: 'protocol error',
  SCRAM_CHANNEL_BINDING_UNSUPPORTED: 'protocol error',
  REPLICATION_UNSUPPORTED: 'protocol error',
  AUTH_QUERY_FAILED: 'upstream error',
  UPSTREAM_CONNECT: 'upstream error',
  UPSTREAM_TLS: 'upstream error',
  UPSTREAM_NO_TLS: 'upstream error',
  UPSTREAM_TIMEOUT: 'upstream error',
  UPSTREAM_LOGIN: 'upstream error',
  UPSTREAM_PROTOCOL: 'upstream error',
  UPSTREAM_NO_PASSWORD: 'upstream error',
  UPSTREAM_AUTH_UNSUPPORTED: 'upstream error',
  UPSTREAM_AUTH: 'upstream error',
  UPSTREAM_LOGIN_REFUSED: 'upstream error',
  UPSTREAM_UNAVAILABLE: 'upstream error',
  SASL_MECHANISM_UNSUPPORTED: 'upstream error',
  SCRAM_SERVER_ERROR: 'upstream error',
};

/**
 * The audit reason of an error that refused a login, from its code alone. A certificate refusal
 * is told more exactly by the verdict when there is one (which purpose check failed).
 */
export function reasonOf(err: unknown, certCheck?: CertCheck): AuditReason {
  if (!isPgmoatError(err)) return 'internal error';
  const refusal = certRefusalOfCode(err.code);
  if (refusal !== undefined) {
    const usage = certCheck && !certCheck.ok && certCheck.reason === refusal ? certCheck.usage : undefined;
    return certAuditReason(refusal, usage);
  }
  return CODE_REASONS[err.code] ?? (err.sqlstate === SqlState.PROTOCOL_VIOLATION ? 'protocol error' : 'internal error');
}

/** What is known about a connection when its audit line is written; every field optional. */
export interface AuditSubject {
  remote: string;
  /** The load balancer's address when a PROXY header gave `remote` (listen.proxy_protocol). */
  via?: string | undefined;
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
    via: s.via,
    cn: s.identity?.cn,
    environment: s.identity?.environment,
    // The URI and DNS SANs (uri:..., dns:...) the rules and identity maps can match on; absent when none.
    san: s.identity && (s.identity.uris.length > 0 || s.identity.dnsNames.length > 0) ? sanList(s.identity) : undefined,
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

  /**
   * A connection refused over its PROXY header, before any PostgreSQL byte: `remote` is the peer
   * that sent it. Warn: either an address outside listen.proxy_protocol.trusted speaks PROXY (a
   * misconfigured balancer or someone claiming others' addresses) or a trusted one sends garbage.
   */
  proxyRefused(remote: string, reason: string): void {
    this.log.warn({ event: 'proxy_refused', audit: true, outcome: 'refused', remote, reason }, `PROXY header refused from ${remote}: ${reason}`);
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
