/**
 * What the gateway and its parts tell the metrics about, and the admin console's login hook.
 * The gateway holds NO_METRICS until Admin.attach() (admin/admin.ts) puts the real ones in, so that a
 * gateway without metrics pays one empty call per event. Every method is cheap and never throws;
 * none is called per message, only per connection or per event.
 */
import type { CertCheck } from '../tls/client-tls.js';
import type { LoginRequest } from '../accept/client-accept.js';
import { ADMIN_DATABASE } from '../config/schema.js';

/**
 * accepted: the handshake completed, the certificate (if one was required) passed, and the login
 * was not refused (the metrics count it once the connection's fate is decided, see `connectionDecided`).
 * refused: the handshake completed but pgmoat refused the certificate (reason: the refusal), or
 * the certificate passed and the login was refused (reason `login-refused`).
 * failed: the handshake itself did not complete (reason: what went wrong).
 */
export type HandshakeOutcome = 'accepted' | 'refused' | 'failed';

/**
 * How a connection whose handshake completed ended up: `refused` at any stage after the handshake
 * (a FATAL before or at login), else `accepted` (logged in, or left without being refused: no
 * StartupMessage, a CancelRequest, gone during the login).
 */
export type ConnectionOutcome = 'accepted' | 'refused';

/**
 * The kinds of connections the limits turn away (pgmoat_rate_limited_total{kind}). Counted by
 * AccessControl (access-control.ts `counters`), which the metrics read at scrape time.
 */
export type RateLimitKind = 'handshakes_per_second' | 'handshakes_per_second_per_address' | 'connections_per_identity' | 'connections_per_address';

/**
 * Where a connection was refused (pgmoat_login_refusals_total{stage}): `accept` before any TLS
 * (the handshake rate limit), `handshake` up to the StartupMessage (TLS, the certificate verdict,
 * SSL required, a bad startup packet, the login timeout), `login` after it (rules, environment,
 * role, password, caps, the upstream).
 */
export type RefusalStage = 'accept' | 'handshake' | 'login';

/** One refusal as the audit line tells it (access-control.ts), for the metrics. */
export interface RefusalEvent {
  stage: RefusalStage;
  /** The audit line's `reason` (access/audit.ts AuditReason). */
  reason: string;
  /** The certificate verdict of the connection, when its handshake completed. */
  check: CertCheck | undefined;
  /** With reason `environment mismatch`: the certificate's and the database's environment. */
  environments?: { certificate: string | undefined; database: string | undefined } | undefined;
  /** The client's address, where the refusal knows it (the dashboard's list of recent refusals). */
  remote?: string | undefined;
}

export interface GatewayMetricsHooks {
  /**
   * The handshake completed; `check` is the certificate verdict, `seconds` how long the handshake
   * took (undefined when its start is unknown). A certificate that passed is counted later, once,
   * by `connectionDecided`.
   */
  tlsSecured(seconds: number | undefined, check: CertCheck): void;
  /** The handshake did not complete (tls.Server 'tlsClientError'). */
  tlsFailed(seconds: number | undefined, err: Error): void;
  /** A handshake result measured elsewhere; `seconds` undefined when its start is unknown. */
  handshake(outcome: HandshakeOutcome, reason: string, seconds: number | undefined): void;
  /** A live session of a revoked certificate was ended, `delayMs` after the CRL was written. */
  revocationEnforced(delayMs: number): void;
  /** A configuration reload (SIGHUP or RELOAD) was applied or refused. */
  reloaded(outcome: 'ok' | 'refused'): void;
  /** A connection was refused, at any stage (one call per audit line `login_refused`). */
  refused(event: RefusalEvent): void;
  /**
   * The fate of a connection is decided: called by the gateway exactly once per connection, where
   * it leaves the accept phase without a login (refused or gone) or where its login ends
   * (accepted, refused, or the client gone). `check` is its certificate verdict: undefined
   * without TLS or before the handshake completed (nothing is counted then); per call, no state
   * is kept per connection.
   */
  connectionDecided(check: CertCheck | undefined, outcome: ConnectionOutcome): void;
}

export interface AdminConsoleHook {
  /** Takes over a login to the virtual database `pgmoat`; throws a PgmoatError (FATAL 28000) to refuse. */
  login(req: LoginRequest): void;
}

const noop = (): void => undefined;

export const NO_METRICS: GatewayMetricsHooks = {
  tlsSecured: noop,
  tlsFailed: noop,
  handshake: noop,
  revocationEnforced: noop,
  reloaded: noop,
  refused: noop,
  connectionDecided: noop,
};

/** The database a StartupMessage asks for, as PostgreSQL derives it (defaults to the user name). */
export function isAdminDatabase(params: ReadonlyMap<string, string>): boolean {
  return (params.get('database') || params.get('user')) === ADMIN_DATABASE;
}
