/**
 * Everything the gateway does about who may stay connected, in one object it calls at a few
 * hook points: rate limits at accept, connection caps and passwords at login, the audit trail,
 * the CRL watch (revocations end live sessions within a second), the stale-CRL warning, and
 * the certificate-expiry sweep. The gateway's one janitor calls sweep().
 */
import type { Logger } from 'pino';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { noticeResponse } from '../protocol/error-response.js';
import { SqlState } from '../protocol/sqlstate.js';
import { PgmoatError, errorMessage } from '../util/errors.js';
import { isRevoked, isStale, type RevocationList } from '../revocation/revocation-list.js';
import type { CertCheck } from '../tls/client-tls.js';
import type { PeerIdentity } from '../tls/peer-identity.js';
import type { ClientSession } from '../relay/client-session.js';
import type { LoginRequest } from '../accept/client-accept.js';
import type { Pool } from '../pool/pool.js';
import { authenticateClient } from '../auth/client-auth.js';
import { AuthQueryError, runAuthQuery } from './auth-query.js';
import type { ClientSecret, SecretLookup } from '../auth/client-secrets.js';
import { Audit, reasonOf, type AuditReason, type AuditSubject } from './audit.js';
import { ConnectionCaps, HandshakeRateLimiter, type Lease, type LimitCounters } from './limits.js';
import { CrlWatcher, type LoadedCrl } from '../revocation/crl-watch.js';
import { admitRevocationList } from '../revocation/crl-admission.js';
import { sameFloor } from '../revocation/crl-order.js';
import { readCrlState, writeCrlState } from '../revocation/crl-state.js';
import type { LoginDecision } from './login.js';
import type { RuntimeConfig } from '../runtime/runtime-config.js';
import type { GatewayMetricsHooks } from './hooks.js';

/** How often a stale CRL is reported again while it stays stale. */
const STALE_WARNING_INTERVAL_MS = 60_000;
/** A session to end waits at most this long for a message boundary before it is cut without a message. */
const BOUNDARY_WAIT_MS = 1000;

export interface AccessHost {
  readonly runtime: RuntimeConfig;
  readonly pools: ReadonlyMap<string, Pool>;
  /** Swaps the revocation list of the running config (and rotates ticket keys on new serials). */
  setRevocation(list: RevocationList): void;
  /** pgmoat_revocations_enforced_total and pgmoat_revocation_delay_seconds (src/admin/metrics.ts). */
  readonly metrics?: Pick<GatewayMetricsHooks, 'revocationEnforced'>;
}

/** What the metrics issue reads: the CRL in force and how old it is. */
export interface CrlStatus {
  path: string | undefined;
  thisUpdate: Date | undefined;
  nextUpdate: Date | undefined;
  /** Seconds since thisUpdate; undefined without a CRL. */
  ageSeconds: number | undefined;
  stale: boolean;
  revokedCount: number;
  /** When the gateway last loaded it (ms since the epoch). */
  loadedAt: number | undefined;
}

/** A refused attempt as seen before login (client-accept.ts). */
export interface EarlyRefusal {
  remoteAddress: string;
  tls: TLSSocket | undefined;
  certCheck: CertCheck | undefined;
  params: Map<string, string> | undefined;
}

type Ending = { kind: 'revoked'; since: number; mtimeMs: number } | { kind: 'expired'; since: number };

function* clientsOf(pools: ReadonlyMap<string, Pool>): Generator<ClientSession> {
  for (const pool of pools.values()) yield* pool.clients();
}

/** True when pgmoat may write a message of its own to the client without splitting a relayed one. */
function atBoundary(client: ClientSession): boolean {
  const server = client.server;
  return server === null || server.scanner.atBoundary;
}

export class AccessControl {
  readonly audit: Audit;
  readonly counters: LimitCounters = { handshakesRateLimited: 0, handshakesRateLimitedPerAddress: 0, identityCapRefused: 0, addressCapRefused: 0 };
  private readonly rate = new HandshakeRateLimiter();
  private readonly caps = new ConnectionCaps();
  private readonly leases = new Map<ClientSession, Lease>();
  private readonly ending = new Map<ClientSession, Ending>();
  private readonly warned = new WeakSet<ClientSession>();
  private readonly logins = new Set<{ startedAt: number; abort: AbortController }>();
  /** Rate-limited refusals logged per address: when, and how many were not logged since. */
  private readonly rateLogged = new Map<string, { at: number; suppressed: number }>();
  private watcher: CrlWatcher | undefined;
  private crlLoadedAt: number | undefined;
  /** State files already reported as unwritable (once each: the floor stays in memory). */
  private readonly unwritableState = new Set<string>();
  private lastStaleWarning = 0;

  constructor(
    private readonly host: AccessHost,
    private readonly log: Logger,
  ) {
    this.audit = new Audit(log);
  }

  private get rc(): RuntimeConfig {
    return this.host.runtime;
  }

  // ---- lifecycle -----------------------------------------------------------------------

  start(): void {
    this.crlLoadedAt = this.rc.crlPath ? Date.now() : undefined;
    this.persistCrlFloor();
    this.startWatcher();
    this.warnIfStale(Date.now(), true);
    if (this.rc.access.source === 'default' && this.rc.access.rules[0]?.method === 'trust') {
      this.log.warn({ event: 'no_client_authentication', tls_mode: this.rc.config.tls.mode }, 'no rules: and no client certificate or password is required: every client that can connect is let in');
    }
  }

  stop(): void {
    this.watcher?.stop();
    this.watcher = undefined;
    for (const l of this.logins) l.abort.abort();
  }

  /** A SIGHUP reload: the watcher follows the new path and CA bundle. */
  onReload(previous: RuntimeConfig): void {
    const rc = this.rc;
    if (rc.crlPath !== previous.crlPath || rc.clientTls?.ca !== previous.clientTls?.ca) {
      this.watcher?.stop();
      this.watcher = undefined;
      this.startWatcher();
    }
    this.crlLoadedAt = rc.crlPath ? Date.now() : undefined;
    this.persistCrlFloor();
    this.warnIfStale(Date.now(), true);
    // Serials revoked by the reload end their sessions too.
    this.queueRevoked(rc.revocation, Date.now());
  }

  private startWatcher(): void {
    const rc = this.rc;
    if (!rc.crlPath || !rc.clientTls?.ca) return;
    const crlPath = rc.crlPath;
    const caPem = rc.clientTls.ca;
    const admit = (list: RevocationList): RevocationList =>
      admitRevocationList(list, { crlPath, statePath: this.rc.crlStatePath, caPem, inForce: this.rc.revocation });
    this.watcher = new CrlWatcher(crlPath, caPem, (crl) => this.applyCrl(crl), this.log, admit);
    this.watcher.start();
  }

  /**
   * Records the floor of the list in force (the newest CRL per issuer) in the state file, so that
   * a restarted gateway refuses an older CRL too. A file it cannot write (a read-only CRL
   * directory) is reported once; the floor then protects this process only.
   */
  private persistCrlFloor(): void {
    const { crlPath, crlStatePath: statePath, revocation } = this.rc;
    if (!crlPath || !statePath || revocation.floor.length === 0) return;
    try {
      if (sameFloor(readCrlState(statePath), revocation.floor)) return;
    } catch {
      // Not valid: rewritten below, and writeCrlState says what it replaced.
    }
    try {
      const { replacedInvalid } = writeCrlState(statePath, crlPath, revocation.floor);
      this.unwritableState.delete(statePath);
      if (replacedInvalid) {
        this.log.warn({ event: 'crl_state_replaced', path: statePath, reason: replacedInvalid.message }, 'the CRL state file was not valid; rewritten from the list in force');
      }
    } catch (err) {
      if (this.unwritableState.has(statePath)) return;
      this.unwritableState.add(statePath);
      this.log.warn(
        { event: 'crl_state_unwritable', path: statePath, crl: crlPath, reason: (err as NodeJS.ErrnoException).code ?? errorMessage(err) },
        'cannot record the newest CRL: an older CRL is refused until this gateway restarts, but not after; set tls.crl_state_file to a writable path',
      );
    }
  }

  // ---- revocation --------------------------------------------------------------------

  private applyCrl(crl: LoadedCrl): void {
    const before = this.rc.revocation.revoked;
    const added = [...crl.list.revoked].filter((s) => !before.has(s));
    const removed = [...before].filter((s) => !crl.list.revoked.has(s)).length;
    this.host.setRevocation(crl.list);
    this.crlLoadedAt = crl.loadedAt;
    this.persistCrlFloor();
    if (added.length > 0 || removed > 0) {
      const fields = {
        event: 'crl_reloaded',
        path: this.watcher?.path,
        revoked: crl.list.revoked.size,
        newly_revoked: added,
        unrevoked: removed,
        crl_numbers: crl.list.crls.map((c) => c.crlNumber?.toString() ?? null),
        next_update: crl.list.nextUpdate?.toISOString(),
        delay_ms: Math.round(crl.loadedAt - crl.mtimeMs),
      };
      // A newer CRL may lift a revocation (removeFromCRL, an expired hold): legitimate, but worth a look.
      if (removed > 0) this.log.warn(fields, `CRL reloaded: a newer CRL lifts ${removed} revocation(s)`);
      else this.log.info(fields, 'CRL reloaded');
    }
    this.warnIfStale(Date.now(), true);
    if (added.length > 0) this.queueRevoked(crl.list, crl.mtimeMs);
  }

  private queueRevoked(list: RevocationList, mtimeMs: number): void {
    if (list.revoked.size === 0) return;
    const now = Date.now();
    for (const client of clientsOf(this.host.pools)) {
      const id = client.info.identity;
      if (!id || this.ending.has(client) || !isRevoked(list, id.serial)) continue;
      this.ending.set(client, { kind: 'revoked', since: now, mtimeMs });
    }
    this.endSessions(now);
  }

  /** Ends the sessions queued by revocation or expiry, each with one FATAL at a message boundary. */
  private endSessions(now: number): void {
    for (const [client, e] of this.ending) {
      if (client.phase === 'closed') {
        this.ending.delete(client);
        continue;
      }
      const boundary = atBoundary(client);
      if (!boundary && now - e.since < BOUNDARY_WAIT_MS) continue;
      this.ending.delete(client);
      const id = client.info.identity;
      const error =
        e.kind === 'revoked'
          ? new PgmoatError('CERT_REVOKED', 'client certificate has been revoked', { sqlstate: SqlState.INVALID_AUTHORIZATION_SPECIFICATION })
          : new PgmoatError('CERT_EXPIRED', 'client certificate has expired', { sqlstate: SqlState.INVALID_AUTHORIZATION_SPECIFICATION });
      client.pool.closeClient(client, e.kind === 'revoked' ? 'certificate revoked' : 'certificate expired', boundary ? error : undefined);
      if (e.kind === 'revoked') {
        const delay = Math.round(Date.now() - e.mtimeMs);
        this.host.metrics?.revocationEnforced(delay);
        this.log.warn(
          { event: 'revoked_session_ended', remote: client.info.remoteAddress, cn: id?.cn, environment: id?.environment, serial: id?.serial, delay_ms: delay, with_message: boundary },
          `session of a revoked certificate ended ${delay} ms after the CRL was written`,
        );
      } else {
        this.log.info({ event: 'expired_session_ended', remote: client.info.remoteAddress, cn: id?.cn, serial: id?.serial, not_after: id?.notAfter.toISOString() }, 'session ended: its certificate expired');
      }
    }
  }

  /** Refuses a login whose certificate was revoked while it was logging in. */
  assertNotRevoked(identity: PeerIdentity | undefined): void {
    if (identity && isRevoked(this.rc.revocation, identity.serial)) {
      throw new PgmoatError('CLIENT_CERT_REFUSED', 'client certificate has been revoked', { sqlstate: SqlState.INVALID_AUTHORIZATION_SPECIFICATION });
    }
  }

  crlStatus(now = Date.now()): CrlStatus {
    const list = this.rc.revocation;
    const has = this.rc.crlPath !== undefined && list.crlCount > 0;
    return {
      path: this.rc.crlPath,
      thisUpdate: list.thisUpdate,
      nextUpdate: list.nextUpdate,
      ageSeconds: has && list.thisUpdate ? Math.max(0, Math.round((now - list.thisUpdate.getTime()) / 1000)) : undefined,
      stale: has && isStale(list, now),
      revokedCount: list.revoked.size,
      loadedAt: has ? this.crlLoadedAt : undefined,
    };
  }

  private warnIfStale(now: number, force: boolean): void {
    const status = this.crlStatus(now);
    if (!status.stale) return;
    if (!force && now - this.lastStaleWarning < STALE_WARNING_INTERVAL_MS) return;
    this.lastStaleWarning = now;
    this.log.warn(
      {
        event: 'crl_stale',
        path: status.path,
        next_update: status.nextUpdate?.toISOString(),
        age_s: status.ageSeconds,
        revoked: status.revokedCount,
      },
      'the CRL is past its nextUpdate: its revoked serials stay refused and every other client is let in; re-sign it with: pgmoat crl --dir <CA dir>',
    );
  }

  // ---- expiry --------------------------------------------------------------------------

  private sweepExpiry(now: number): void {
    const tls = this.rc.config.tls;
    if (!tls.end_sessions_on_expiry) return;
    const warning = tls.expiry_warning;
    for (const client of clientsOf(this.host.pools)) {
      const id = client.info.identity;
      if (!id || this.ending.has(client)) continue;
      const notAfter = id.notAfter.getTime();
      if (now >= notAfter) {
        this.ending.set(client, { kind: 'expired', since: now });
      } else if (warning > 0 && now >= notAfter - warning && !this.warned.has(client) && atBoundary(client) && client.socket.writable) {
        this.warned.add(client);
        client.socket.write(
          noticeResponse(
            `client certificate expires at ${id.notAfter.toISOString()}; this session will be ended then`,
            'WARNING',
            '01000',
            'tls.end_sessions_on_expiry is on. Renew the certificate (pgmoat renew) and reconnect with the new one.',
          ),
        );
      }
    }
  }

  // ---- accept and login ----------------------------------------------------------------

  /** The handshake rate limit, at accept: false means close the socket now, before any TLS work. */
  admitConnection(socket: Socket): boolean {
    const remote = socket.remoteAddress ?? '';
    const verdict = this.rate.admit(remote, this.rc.config.limits);
    if (verdict === 'ok') return true;
    if (verdict === 'global') this.counters.handshakesRateLimited++;
    else this.counters.handshakesRateLimitedPerAddress++;
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
      throw new PgmoatError('CONNECTION_LIMIT', `too many connections for certificate identity "${identity?.cn ?? ''}" (connections_per_identity is ${verdict.max})`, {
        sqlstate: SqlState.TOO_MANY_CONNECTIONS,
      });
    }
    this.counters.addressCapRefused++;
    throw new PgmoatError('CONNECTION_LIMIT', `too many connections from this address (connections_per_address is ${verdict.max})`, {
      sqlstate: SqlState.TOO_MANY_CONNECTIONS,
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
      { remote: req.remoteAddress, identity: decision.identity, database: decision.database, role: decision.role, tlsVersion: client.info.tlsProtocol, cipher: client.info.tlsCipher },
      { rule: decision.rule, method: decision.password },
    );
  }

  sessionEnded(client: ClientSession, reason: string): void {
    this.leases.get(client)?.release();
    this.leases.delete(client);
    this.ending.delete(client);
    const info = client.info;
    this.audit.sessionEnd(
      { remote: info.remoteAddress, identity: info.identity, database: info.database, role: info.role, tlsVersion: info.tlsProtocol, cipher: info.tlsCipher },
      { reason, durationMs: Date.now() - client.connectedAt, bytesIn: client.bytesIn, bytesOut: client.bytesOut || client.socket.bytesWritten },
    );
  }

  /** A login refused after the StartupMessage (gateway.login's catch). */
  loginRefused(req: LoginRequest, err: unknown, message: string | undefined): void {
    const identity = req.certCheck?.identity;
    this.audit.refused(
      { remote: req.remoteAddress, identity, database: req.params.get('database') || req.params.get('user'), role: req.params.get('user'), tls: req.tls },
      reasonOf(err, req.certCheck),
      message,
    );
  }

  /** A connection refused before login (certificate verdict, SSL required, bad startup, timeout). */
  earlyRefusal(r: EarlyRefusal, err: PgmoatError): void {
    const reason: AuditReason = reasonOf(err, r.certCheck);
    const subject: AuditSubject = { remote: r.remoteAddress, identity: r.certCheck?.identity, tls: r.tls };
    if (r.params) {
      subject.role = r.params.get('user');
      subject.database = r.params.get('database') || r.params.get('user');
    }
    this.audit.refused(subject, reason, err.message);
  }

  tlsHandshakeFailed(remote: string, err: unknown): void {
    this.audit.refused({ remote }, 'tls handshake failed', errorMessage(err));
  }

  // ---- janitor -----------------------------------------------------------------------

  sweep(now: number): void {
    this.watcher?.poll(now);
    this.sweepExpiry(now);
    if (this.ending.size > 0) this.endSessions(now);
    this.warnIfStale(now, false);
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
