/**
 * Everything the gateway does about who may stay connected, in one object it calls at a few
 * hook points: rate limits at accept, connection caps and passwords at login, the audit trail,
 * and the end of sessions over their certificate (revocation/session-enforcer.ts: a revoked
 * serial within a second, an expired certificate at the sweep). The gateway's one janitor
 * calls sweep().
 */
import type { Logger } from 'pino';
import type { TLSSocket } from 'node:tls';
import { PgmoatError, errorMessage, isPgmoatError } from '../util/errors.js';
import type { CertCheck } from '../tls/client-tls.js';
import { identityName, type PeerIdentity } from '../tls/peer-identity.js';
import type { ClientSession } from '../relay/client-session.js';
import type { LoginRequest } from '../accept/client-accept.js';
import type { Pool } from '../pool/pool.js';
import { authenticateClient } from '../auth/client-auth.js';
import { AuthQueryError, runAuthQuery } from './auth-query.js';
import type { ClientSecret, SecretLookup } from '../auth/client-secrets.js';
import { Audit, reasonOf, type AuditReason, type AuditSubject } from './audit.js';
import { ConnectionCaps, HandshakeRateLimiter, type Lease, type LimitCounters } from './limits.js';
import type { Revocations } from '../revocation/revocations.js';
import { SessionEnforcer, type SessionPort } from '../revocation/session-enforcer.js';
import type { LoginDecision } from './login.js';
import type { RuntimeConfig } from '../runtime/runtime-config.js';
import type { GatewayMetricsHooks } from './hooks.js';

export interface AccessHost {
  readonly runtime: RuntimeConfig;
  readonly pools: ReadonlyMap<string, Pool>;
  /** Every revocation source; a change that revokes a live session's serial ends it. */
  readonly revocations: Revocations;
  /** Revocations enforced and refusals (src/admin/metrics.ts); read at each event, as Admin may attach later. */
  readonly metrics?: Pick<GatewayMetricsHooks, 'revocationEnforced' | 'refused'>;
}

/** A refused attempt as seen before login (client-accept.ts). */
export interface EarlyRefusal {
  remoteAddress: string;
  via: string | undefined;
  tls: TLSSocket | undefined;
  certCheck: CertCheck | undefined;
  params: Map<string, string> | undefined;
}

/** The pools' client sessions as the session enforcer sees them. */
function sessionPort(pools: ReadonlyMap<string, Pool>): SessionPort<ClientSession> {
  return {
    *sessions() {
      for (const pool of pools.values()) {
        yield* pool.clients();
      }
    },
    certificate: (c) => c.info.identity,
    remoteAddress: (c) => c.info.remoteAddress,
    closed: (c) => c.phase === 'closed',
    atBoundary: (c) => c.server === null || c.server.scanner.atBoundary,
    writable: (c) => c.socket.writable,
    write: (c, bytes) => c.socket.write(bytes),
    end: (c, reason, error) => c.pool.closeClient(c, reason, error),
  };
}

export class AccessControl {
  readonly audit: Audit;
  readonly counters: LimitCounters = { handshakesRateLimited: 0, handshakesRateLimitedPerAddress: 0, identityCapRefused: 0, addressCapRefused: 0 };
  /** Ends the sessions of revoked and expired certificates. */
  readonly enforcer: SessionEnforcer<ClientSession>;
  private readonly rate = new HandshakeRateLimiter();
  private readonly caps = new ConnectionCaps();
  private readonly leases = new Map<ClientSession, Lease>();
  private readonly logins = new Set<{ startedAt: number; abort: AbortController }>();
  /** Rate-limited refusals logged per address: when, and how many were not logged since. */
  private readonly rateLogged = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly host: AccessHost,
    private readonly log: Logger,
  ) {
    this.audit = new Audit(log);
    this.enforcer = new SessionEnforcer(host.revocations, sessionPort(host.pools), log, {
      expiry: () => ({ endSessions: this.rc.config.tls.end_sessions_on_expiry, warningMs: this.rc.config.tls.expiry_warning }),
      revokedEnded: (delayMs) => host.metrics?.revocationEnforced(delayMs),
    });
  }

  private get rc(): RuntimeConfig {
    return this.host.runtime;
  }

  // ---- lifecycle -----------------------------------------------------------------------

  start(): void {
    if (this.rc.access.source === 'default' && this.rc.access.rules[0]?.method === 'trust') {
      this.log.warn({ event: 'no_client_authentication', tls_mode: this.rc.config.tls.mode }, 'no rules: and no client certificate or password is required: every client that can connect is let in');
    }
  }

  stop(): void {
    this.enforcer.stop();
    for (const l of this.logins) l.abort.abort();
  }

  /** Refuses a login whose certificate was revoked while it was logging in. */
  assertNotRevoked(identity: PeerIdentity | undefined): void {
    this.enforcer.assertNotRevoked(identity);
  }

  // ---- accept and login ----------------------------------------------------------------

  /** The handshake rate limit, at accept: false means close the socket now, before any TLS work. */
  admitConnection(remote: string): boolean {
    const verdict = this.rate.admit(remote, this.rc.config.limits);
    if (verdict === 'ok') return true;
    if (verdict === 'global') this.counters.handshakesRateLimited++;
    else this.counters.handshakesRateLimitedPerAddress++;
    this.host.metrics?.refused({ stage: 'accept', reason: 'rate limited', check: undefined, remote });
    // A flood must not become a flood of log lines: one line per address per second, with a count.
    const now = Date.now();
    const last = this.rateLogged.get(remote);
    if (last && now - last.at < 1000) {
      last.suppressed++;
      return false;
    }
    this.rateLogged.set(remote, { at: now, suppressed: 0 });
    this.audit.refused({ remote }, 'rate limited', undefined, { limit: verdict === 'global' ? 'handshakes_per_second' : 'handshakes_per_second_per_address' });
    return false;
  }

  /** The caps, at login: a lease the session holds until it ends. Throws FATAL 53300. */
  admitLogin(req: LoginRequest, identity: PeerIdentity | undefined): Lease {
    const limits = this.rc.config.limits;
    const key = ConnectionCaps.identityKey(identity);
    const verdict = this.caps.tryAcquire(key, req.remoteAddress, limits);
    if (verdict.ok) return verdict.lease;
    if (verdict.limit === 'identity') {
      this.counters.identityCapRefused++;
      throw new PgmoatError('CONNECTION_LIMIT', `too many connections for certificate identity "${identity ? identityName(identity) : ''}" (connections_per_identity is ${verdict.max})`, {
        });
    }
    this.counters.addressCapRefused++;
    throw new PgmoatError('CONNECTION_LIMIT', `too many connections from this address (connections_per_address is ${verdict.max})`, {
      });
  }

  private secretLookup(database: string): SecretLookup {
    const rc = this.rc;
    return async (role: string): Promise<ClientSecret | undefined> => {
      const own = rc.access.userlist.get(role);
      if (own !== undefined) return own;
      return rc.config.auth_user !== undefined ? runAuthQuery(rc, database, role) : undefined;
    };
  }

  /** The password exchange the rule asked for; returns the bytes that followed it. */
  async authenticate(req: LoginRequest, decision: LoginDecision): Promise<Buffer | undefined> {
    if (!decision.password) return req.leftover;
    const entry = { startedAt: Date.now(), abort: new AbortController() };
    this.logins.add(entry);
    try {
      return await authenticateClient({
        socket: req.socket,
        leftover: req.leftover,
        role: decision.role,
        method: decision.password,
        lookup: this.secretLookup(decision.database),
        mockKey: this.rc.access.mockKey,
        signal: entry.abort.signal,
      });
    } catch (err) {
      if (err instanceof AuthQueryError) {
        this.log.warn({ event: 'auth_query_failed', database: decision.database, role: decision.role, reason: err.reason }, 'auth_query failed');
      }
      throw err;
    } finally {
      this.logins.delete(entry);
    }
  }

  sessionStarted(client: ClientSession, lease: Lease, req: LoginRequest, decision: LoginDecision): void {
    this.leases.set(client, lease);
    this.audit.accepted(
      { remote: req.remoteAddress, via: req.via, identity: decision.identity, database: decision.database, role: decision.role, tlsVersion: client.info.tlsProtocol, cipher: client.info.tlsCipher },
      { rule: decision.rule, method: decision.password },
    );
  }

  sessionEnded(client: ClientSession, reason: string): void {
    this.leases.get(client)?.release();
    this.leases.delete(client);
    this.enforcer.forget(client);
    const info = client.info;
    this.audit.sessionEnd(
      { remote: info.remoteAddress, via: info.via, identity: info.identity, database: info.database, role: info.role, tlsVersion: info.tlsProtocol, cipher: info.tlsCipher },
      { reason, durationMs: Date.now() - client.connectedAt, bytesIn: client.bytesIn, bytesOut: client.bytesOut || client.socket.bytesWritten },
    );
  }

  /** A login refused after the StartupMessage (gateway.login's catch). */
  loginRefused(req: LoginRequest, err: unknown, message: string | undefined): void {
    const identity = req.certCheck?.identity;
    const database = req.params.get('database') || req.params.get('user');
    const reason = reasonOf(err, req.certCheck);
    this.audit.refused(
      { remote: req.remoteAddress, via: req.via, identity, database, role: req.params.get('user'), tls: req.tls },
      reason,
      message,
      isPgmoatError(err) ? { code: err.code } : {},
    );
    // The database's environment is read here, not carried in the error: login.ts words the refusal.
    const db = database !== undefined && Object.hasOwn(this.rc.config.databases, database) ? this.rc.config.databases[database] : undefined;
    const environments = reason === 'environment mismatch' ? { certificate: identity?.environment, database: db?.environment } : undefined;
    this.host.metrics?.refused({ stage: 'login', reason, check: req.certCheck, environments, remote: req.remoteAddress });
  }

  /** A connection refused before login (certificate verdict, SSL required, bad startup, timeout). */
  earlyRefusal(r: EarlyRefusal, err: PgmoatError): void {
    const reason: AuditReason = reasonOf(err, r.certCheck);
    const subject: AuditSubject = { remote: r.remoteAddress, via: r.via, identity: r.certCheck?.identity, tls: r.tls };
    if (r.params) {
      subject.role = r.params.get('user');
      subject.database = r.params.get('database') || r.params.get('user');
    }
    this.audit.refused(subject, reason, err.message, { code: err.code });
    this.host.metrics?.refused({ stage: 'handshake', reason, check: r.certCheck, remote: r.remoteAddress });
  }

  /** A PROXY header refused (untrusted, invalid, missing where required, cut short): see client-accept.ts. */
  proxyRefused(remote: string, reason: string): void {
    this.audit.proxyRefused(remote, reason);
    this.host.metrics?.refused({ stage: 'accept', reason: 'proxy header', check: undefined, remote });
  }

  tlsHandshakeFailed(remote: string, err: unknown): void {
    this.audit.refused({ remote }, 'tls handshake failed', errorMessage(err));
    this.host.metrics?.refused({ stage: 'handshake', reason: 'tls handshake failed', check: undefined, remote });
  }

  // ---- janitor -----------------------------------------------------------------------

  sweep(now: number): void {
    this.enforcer.sweep(now);
    this.rate.prune(this.rc.config.limits, now);
    for (const [remote, l] of this.rateLogged) {
      if (now - l.at < 1000) continue;
      if (l.suppressed > 0) {
        this.log.info({ event: 'rate_limited_suppressed', remote, count: l.suppressed }, `${l.suppressed} more connections from ${remote} were refused by the handshake rate limit`);
      }
      this.rateLogged.delete(remote);
    }
    const timeout = this.rc.config.client_login_timeout;
    if (timeout > 0) {
      for (const l of this.logins) if (now - l.startedAt > timeout) l.abort.abort();
    }
  }
}
