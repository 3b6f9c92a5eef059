/**
 * The running gateway: the listener, the client-side tls.Server, the pools, the cancel keys
 * and the one janitor timer. Configuration arrives as a RuntimeConfig; reload() swaps it for
 * new connections and leaves the ones already established alone.
 */
import { createServer as createNetServer, type Server as NetServer, type Socket, type AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { IncomingConnection, type AcceptEnd, type AcceptHost, type LoginRequest } from '../accept/client-accept.js';
import { proxyExpectation, proxyPolicy, type ProxyExpectation, type ProxyPolicy } from '../accept/proxy-policy.js';
import { ClientSession } from '../relay/client-session.js';
import { welcomeParams } from '../relay/param-sync.js';
import { Pool } from '../pool/pool.js';
import { checkClientCertificate, newTicketSecret, type CertCheck } from '../tls/client-tls.js';
import { ClientTlsEndpoint } from '../tls/client-tls-endpoint.js';
import type { TlsMode } from '../tls/tls-mode.js';
import { UpstreamError } from '../upstream/connect.js';
import { errorResponse, errorResponseFor } from '../protocol/error-response.js';
import * as msg from '../protocol/messages.js';
import { PgmoatError, errorMessage, isPgmoatError } from '../util/errors.js';
import { listenFailure } from '../util/listen-error.js';
import { decideLogin } from '../access/login.js';
import { poolSettings, upstreamTarget, type RuntimeConfig } from '../runtime/runtime-config.js';
import { configureRevocationSources, crlStatus, withCrlInForce } from '../runtime/revocation-sources.js';
import { TlsWatches } from '../runtime/tls-watches.js';
import { applyClientTlsFiles, applyUpstreamTlsFiles } from './tls-file-changes.js';
import { dropRemovedPools, mayOpenServer } from './pool-set.js';
import { NO_METRICS, isAdminDatabase, type AdminConsoleHook, type GatewayMetricsHooks } from '../access/hooks.js';
import { AccessControl } from '../access/access-control.js';
import { Revocations } from '../revocation/revocations.js';
import type { CrlStatus } from '../revocation/crl-file-source.js';
import type { Lease } from '../access/limits.js';
import { PidRouter, type CancelRouter } from './cancel-route.js';
import { CancelKeys } from './cancel-keys.js';
import { PeerCancels } from './peer-cancel.js';
import { peerMap } from '../config/peers-schema.js';
import { LoginGate } from './login-gate.js';
import { reusePortFor } from '../runtime/worker-share.js';
import type { Config } from '../config/schema.js';

const JANITOR_INTERVAL_MS = 250;

export class Gateway implements AcceptHost {
  private rc: RuntimeConfig;
  /** listen.proxy_protocol with its networks parsed, once per configuration; undefined: off. */
  private proxy: ProxyPolicy | undefined;
  private readonly listener: NetServer;
  /** The client-side tls.Server, its context and ticket keys across reloads. */
  private readonly tls: ClientTlsEndpoint;
  private readonly pending = new Set<IncomingConnection>();
  readonly pools = new Map<string, Pool>();
  /** The transactions of the pools a reload removed: with the live pools' own, a count that never falls. */
  removedPoolTransactions = 0;
  private readonly cancelKeys: CancelKeys;
  /** Logins past the max_client_conn check whose session has not yet joined its pool. */
  private loginsInFlight = 0;
  /** Logins waiting for a pool's server parameters: that pool must stay until they joined it. */
  private readonly joining = new Map<Pool, number>();
  private janitor: NodeJS.Timeout | undefined;
  /** Logins handed over by the accept phase and not yet settled (a session, or refused). */
  private logins = 0;
  /** SIGTERM (or SHUTDOWN) arrived: draining. */
  private stopping = false;
  /** The listener closed: connections that still arrive are dropped. */
  private listenerClosed = false;
  /** Past the drain: sessions, pending connections and logins still running are ended. */
  private closed = false;
  /** Ends the drain at once (a second signal); set while shutdown() runs. */
  private forceStop: (() => void) | undefined;
  /** Resolves the drain's wait once nothing is left (checkDrained). */
  private onDrained: (() => void) | undefined;
  /** Metrics and the admin console attach here (src/admin/admin.ts); no-ops until then. */
  metrics: GatewayMetricsHooks = NO_METRICS;
  adminConsole: AdminConsoleHook | undefined;
  /** Under `serve --workers N` or with `peer_id`: pids say which worker and peer own a cancel key (cancel-route.ts). */
  readonly cancelRouter: CancelRouter | undefined;
  /** Under `serve --workers N`: hands a cancel for another worker's pid to the primary (cluster/worker.ts sets it). */
  cancelToWorker: ((pid: number, secret: number) => void) | undefined;
  /** `peer_id` as the gateway started: the pids handed out since carry it, so a reload does not change it. */
  readonly peerId: number | undefined;
  private readonly peerCancels: PeerCancels;
  /** Rules, passwords, limits, audit, and the end of sessions over their certificate (access-control.ts). */
  readonly access: AccessControl;
  /** Every revocation source (the CRL file): asked at the handshake, at login and of live sessions. */
  readonly revocations = new Revocations();
  /** The TLS files followed without a reload (tls.reload_on_change): runtime/tls-watches.ts. */
  private readonly tlsWatches: TlsWatches;
  /** DISABLE/ENABLE and SUSPEND/RESUME of the admin console (login-gate.ts). */
  readonly gate = new LoginGate();

  constructor(
    rc: RuntimeConfig,
    private readonly log: Logger,
    options: { ticketSecret?: Buffer | undefined } = {},
  ) {
    this.rc = rc;
    this.proxy = proxyPolicy(rc.config.listen.proxy_protocol);
    this.peerId = rc.config.peer_id;
    this.peerCancels = new PeerCancels(this.peerId, log);
    this.peerCancels.configure(peerMap(rc.config.peers));
    if (this.peerId !== undefined || rc.share !== undefined) {
      this.cancelRouter = new PidRouter(
        { peerId: this.peerId, share: rc.share },
        {
          worker: (pid, secret) => this.cancelToWorker?.(pid, secret),
          peer: (id, pid, secret) => this.peerCancels.forward(id, pid, secret),
        },
      );
    }
    this.cancelKeys = new CancelKeys(() => this.cancelRouter, log);
    this.listener = createNetServer({ noDelay: true, pauseOnConnect: false }, (socket) => this.onConnection(socket));
    // A failure to open is listen()'s to report (one clear line); later errors are logged.
    this.listener.on('error', (err) => {
      if (this.listener.listening) this.log.error({ err: errorMessage(err) }, 'listener error');
    });
    // The ticket secret is given by a cluster's primary, so that every worker derives the same keys.
    this.tls = new ClientTlsEndpoint(options.ticketSecret ?? newTicketSecret(), {
      secureConnection: (socket) => this.onSecure(socket),
      tlsClientError: (err, socket) => this.onTlsError(err, socket),
    });
    this.tls.configure(rc.clientTls, rc.config.client_login_timeout);
    configureRevocationSources(this.revocations, rc, log);
    this.revocations.subscribe(() => this.revocationChanged());
    this.revocationChanged();
    this.access = new AccessControl(this, log);
    this.tlsWatches = new TlsWatches(
      {
        clientTlsChanged: (next) => (this.rc = applyClientTlsFiles(this.rc, next, this.tls, this.revocations, this.log)),
        upstreamTlsChanged: (database, next) => (this.rc = applyUpstreamTlsFiles(this.rc, database, next, this.pools.values())),
      },
      log,
    );
    this.tlsWatches.configure(rc);
  }

  /** The CRL in force, its age and nextUpdate. */
  get crlStatus(): CrlStatus {
    return crlStatus(this.revocations);
  }

  /**
   * A source's list changed (the CRL watch, a reload). The ticket keys derive from the revoked
   * serials: new serials give new keys, an unchanged list the same ones.
   */
  private revocationChanged(): void {
    this.rc = withCrlInForce(this.rc, this.revocations);
    this.tls.setRevoked(this.revocations.serials());
  }

  get runtime(): RuntimeConfig {
    return this.rc;
  }

  /** Listening and not shutting down (readiness). */
  get accepting(): boolean {
    return this.listener.listening && !this.stopping;
  }

  /** A stop began: /readyz says so from the first moment, while the listener may still accept (shutdown_drain_delay). */
  get draining(): boolean {
    return this.stopping;
  }

  get tlsMode(): TlsMode {
    return this.rc.config.tls.mode;
  }

  private onSecure(socket: TLSSocket): void {
    const conn = this.pendingOf(socket);
    if (!conn) {
      socket.destroy();
      return;
    }
    conn.onSecure(socket);
  }

  private onTlsError(err: Error, socket: TLSSocket): void {
    const conn = this.pendingOf(socket);
    this.metrics.tlsFailed(conn ? handshakeSeconds(conn) : undefined, err);
    this.access.tlsHandshakeFailed(conn?.remoteAddress ?? socket.remoteAddress ?? '', err);
    conn?.close();
    socket.destroy();
  }

  /** `as` names the listener and how to choose another address in a failure (listen-error.ts). */
  async listen(as = { what: 'the gateway', setting: 'listen.host/listen.port in pgmoat.yaml' }): Promise<AddressInfo> {
    const { host, port } = this.rc.config.listen;
    const reusePort = this.rc.share !== undefined && reusePortFor(this.rc.config, this.rc.share.count);
    await new Promise<void>((resolve, reject) => {
      const failed = (err: Error): void => reject(listenFailure(err, as.what, host, port, as.setting));
      this.listener.once('error', failed);
      this.listener.listen({ host, port, backlog: 4096, reusePort }, () => {
        this.listener.off('error', failed);
        resolve();
      });
    });
    this.janitor = setInterval(() => this.sweep(), JANITOR_INTERVAL_MS);
    this.revocations.start();
    this.tlsWatches.start();
    this.access.start();
    const addr = this.listener.address() as AddressInfo;
    this.log.info({ event: 'listening', host: addr.address, port: addr.port, tls_mode: this.tlsMode, ...(reusePort ? { reuse_port: true } : {}) }, 'pgmoat listening');
    return addr;
  }

  // ---- accept ------------------------------------------------------------------------

  private onConnection(socket: Socket): void {
    if (this.listenerClosed) {
      socket.destroy();
      return;
    }
    let proxy: ProxyExpectation = 'off';
    if (this.proxy !== undefined) {
      const peer = socket.remoteAddress;
      // Reset before it was accepted (HAProxy's health checks send their header and close with an
      // RST at once): no address left to judge, and nobody to answer. Not a refusal.
      if (peer === undefined) {
        socket.destroy();
        return;
      }
      proxy = proxyExpectation(this.proxy, peer);
    }
    // A balancer's connection is admitted once its PROXY header named the client (admit()).
    if ((proxy === 'off' || proxy === 'refuse') && !this.access.admitConnection(socket.remoteAddress ?? '')) {
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    if (this.rc.config.tcp_keepalive) socket.setKeepAlive(true, 60_000);
    const conn = new IncomingConnection(socket, this, proxy);
    this.pending.add(conn);
  }

  admit(conn: IncomingConnection): boolean {
    return this.access.admitConnection(conn.remoteAddress);
  }

  proxyRefused(conn: IncomingConnection, reason: string): void {
    this.access.proxyRefused(conn.remoteAddress, reason);
  }

  startTls(conn: IncomingConnection): void {
    const server = this.tls.server;
    if (!server) {
      conn.close();
      return;
    }
    conn.tlsStartedAt = performance.now();
    server.emit('connection', conn.raw);
  }

  /** The connection still being accepted that a TLS socket of the tls.Server wraps. */
  private pendingOf(socket: TLSSocket): IncomingConnection | undefined {
    const conn = IncomingConnection.ofTls(socket);
    return conn !== undefined && this.pending.has(conn) ? conn : undefined;
  }

  checkCertificate(socket: TLSSocket): CertCheck {
    const check = checkClientCertificate(
      socket,
      this.tlsMode,
      this.revocations,
      { allowWithoutEku: this.rc.config.tls.allow_client_certs_without_eku },
      this.rc.access.sanIdentities,
    );
    const conn = this.pendingOf(socket);
    this.metrics.tlsSecured(conn ? handshakeSeconds(conn) : undefined, check);
    return check;
  }

  refused(conn: IncomingConnection, err: PgmoatError): void {
    this.access.earlyRefusal({ remoteAddress: conn.remoteAddress, via: conn.via, tls: conn.tls, certCheck: conn.certificate, params: conn.startupParams }, err);
  }

  /**
   * One of the two places where a connection's fate is decided (the other: login()). A connection
   * handed to login is decided there; the others are decided here, as the metrics count a
   * handshake whose certificate passed only by what became of the connection.
   */
  finished(conn: IncomingConnection, end: AcceptEnd): void {
    this.pending.delete(conn);
    if (end === 'login') return; // login() follows at once and counts it from there
    this.metrics.connectionDecided(conn.certificate, end === 'refused' ? 'refused' : 'accepted');
    this.checkDrained();
  }

  cancel(pid: number, secret: number): void {
    this.cancelKeys.cancel(pid, secret);
  }

  private clientTotal(): number {
    let n = 0;
    for (const pool of this.pools.values()) n += pool.clientCount;
    return n;
  }

  private poolFor(database: string, role: string): Pool {
    const key = `${database}/${role}`;
    let pool = this.pools.get(key);
    if (!pool) {
      // A reload may have removed the database while this login authenticated.
      if (!Object.hasOwn(this.rc.config.databases, database)) {
        throw new PgmoatError('UNKNOWN_DATABASE', `no such database: "${database}"`, { detail: 'A configuration reload removed it during the login.' });
      }
      pool = new Pool(database, role, upstreamTarget(this.rc, database, role), poolSettings(this.rc, database, role), this.rc.config.max_packet_size, this.log, {
        clientClosed: (client, reason) => this.onClientClosed(client, reason),
        mayOpenServer: (p) => mayOpenServer(this.pools.values(), p),
      });
      this.pools.set(key, pool);
    }
    return pool;
  }

  /** Decides the fate of every connection handed over by the accept phase: accepted (resolved) or refused. */
  login(req: LoginRequest): void {
    this.logins++;
    this.doLogin(req).catch((err: unknown) => {
      this.metrics.connectionDecided(req.certCheck, 'refused');
      const error = err instanceof UpstreamError && err.fields ? err.fields : isPgmoatError(err) ? err : new PgmoatError('LOGIN_FAILED', errorMessage(err));
      this.access.loginRefused(req, err, error.message);
      // An upstream's refusal passes on as it is, but for the routine field: pgmoat's code
      // (UPSTREAM_LOGIN_REFUSED) tells a client, and the doctor, that the upstream refused.
      const bytes = error instanceof PgmoatError ? errorResponseFor(error) : errorResponse({ ...error, severity: 'FATAL', routine: (err as UpstreamError).code });
      if (req.socket.writable) {
        req.socket.end(bytes);
        setTimeout(() => req.socket.destroy(), 1000).unref();
      } else {
        req.socket.destroy();
      }
    }).finally(() => {
      this.logins--;
      this.checkDrained();
    });
  }

  private async doLogin(req: LoginRequest): Promise<void> {
    if (this.adminConsole && isAdminDatabase(req.params)) {
      this.adminConsole.login(req);
      this.metrics.connectionDecided(req.certCheck, 'accepted');
      return;
    }
    const decision = decideLogin(this.rc, req, this.revocations);
    const loginTimeout = this.rc.config.client_login_timeout;
    const held = this.gate.admit(decision.database, loginTimeout > 0 ? req.startedAt + loginTimeout : 0, req.socket);
    if (held) {
      await held;
      if (req.socket.destroyed) return;
    }
    // Logins still awaiting authentication or the pool's first server count too: without them a
    // burst of logins on a new pool would all pass the check before any joined the pool.
    if (this.clientTotal() + this.loginsInFlight >= this.rc.config.max_client_conn) {
      throw new PgmoatError('TOO_MANY_CLIENTS', `no more connections allowed (max_client_conn is ${this.rc.config.max_client_conn})`, {
        });
    }
    const lease = this.access.admitLogin(req, decision.identity);
    this.loginsInFlight++;
    try {
      await this.startSession(req, decision, lease);
    } catch (err) {
      lease.release();
      throw err;
    } finally {
      this.loginsInFlight--;
    }
    // A session, or a client gone during the login: not refused either way.
    this.metrics.connectionDecided(req.certCheck, 'accepted');
  }

  private async startSession(req: LoginRequest, decision: ReturnType<typeof decideLogin>, lease: Lease): Promise<void> {
    const leftover = await this.access.authenticate(req, decision);
    const pool = this.poolFor(decision.database, decision.upstreamRole);
    const loginTimeout = this.rc.config.client_login_timeout;
    this.joining.set(pool, (this.joining.get(pool) ?? 0) + 1);
    let serverParams: Map<string, string>;
    try {
      serverParams = await pool.welcomeParams(loginTimeout > 0 ? req.startedAt + loginTimeout : 0, () => req.socket.destroyed);
    } finally {
      const n = (this.joining.get(pool) ?? 1) - 1;
      if (n > 0) this.joining.set(pool, n);
      else this.joining.delete(pool);
    }
    if (req.socket.destroyed) {
      lease.release();
      return;
    }
    this.access.assertNotRevoked(decision.identity);
    // The drain ended while this login waited for its pool: it would join pools already closed.
    if (this.closed) throw new PgmoatError('SHUTDOWN', 'terminating connection due to administrator command');
    const key = this.cancelKeys.allocate();
    const client = new ClientSession(
      pool,
      {
        socket: req.socket,
        remoteAddress: req.remoteAddress,
        remotePort: req.remotePort,
        via: req.via,
        database: decision.database,
        role: decision.role,
        identity: decision.identity,
        tlsProtocol: req.tls?.getProtocol() ?? undefined,
        tlsCipher: req.tls?.getCipher()?.name,
        settings: decision.settings,
        cancelPid: key.pid,
        cancelSecret: key.secret,
      },
      this.rc.config.max_packet_size,
    );
    this.cancelKeys.add(client);
    req.socket.write(msg.loginWelcome(welcomeParams(serverParams, decision.settings), key.pid, key.secret));
    pool.addClient(client);
    this.access.sessionStarted(client, lease, req, decision);
    client.start(leftover);
  }

  private onClientClosed(client: ClientSession, reason: string): void {
    this.cancelKeys.delete(client);
    this.access.sessionEnded(client, reason);
    this.checkDrained();
  }

  /** Sessions, connections still being accepted and logins still running: what a drain waits for. */
  private inUse(): { sessions: number; pending: number; logins: number } {
    return { sessions: this.clientTotal(), pending: this.pending.size, logins: this.logins };
  }

  private checkDrained(): void {
    if (!this.stopping || !this.onDrained) return;
    const u = this.inUse();
    if (u.sessions + u.pending + u.logins === 0) this.onDrained();
  }

  // ---- janitor, reload, shutdown -----------------------------------------------------------

  private sweep(): void {
    const now = Date.now();
    const loginTimeout = this.rc.config.client_login_timeout;
    if (loginTimeout > 0) {
      for (const conn of [...this.pending]) {
        if (now - conn.startedAt > loginTimeout) {
          conn.fail(new PgmoatError('LOGIN_TIMEOUT', 'client did not complete login within client_login_timeout'));
          conn.close();
        }
      }
    }
    for (const pool of this.pools.values()) pool.sweep(now);
    this.checkDrained();
    for (const p of dropRemovedPools(this.pools, this.rc.config.databases, this.joining)) this.removedPoolTransactions += p.stats.transactions;
    this.revocations.poll(now);
    this.tlsWatches.poll(now);
    this.access.sweep(now);
  }

  /** New connections use `rc`; established ones keep what they have. */
  reload(rc: RuntimeConfig): void {
    // First: settings OpenSSL refuses (a key that does not match) throw here and change nothing.
    this.tls.configure(rc.clientTls, rc.config.client_login_timeout);
    if (rc.config.peer_id !== this.peerId) {
      // The cancel keys of the sessions already handed out name the old id: it stays until a restart.
      this.log.warn(
        { event: 'peer_id_change_ignored', peer_id: this.peerId ?? null, configured: rc.config.peer_id ?? null },
        'peer_id cannot change while the gateway runs (live cancel keys carry it): restart to apply it',
      );
      rc = { ...rc, config: { ...rc.config, peer_id: this.peerId } };
    }
    this.peerCancels.configure(peerMap(rc.config.peers));
    // rc.revocation was read against the list in force when the reload began, and the CRL watch
    // may have gone further since: the CRL source keeps the newer one. Serials the reload
    // revokes end their sessions (SessionEnforcer).
    configureRevocationSources(this.revocations, rc, this.log);
    this.rc = withCrlInForce(rc, this.revocations);
    this.proxy = proxyPolicy(rc.config.listen.proxy_protocol);
    // The files the reload read are the sets in force; the watches follow them from there.
    this.tlsWatches.configure(this.rc);
    for (const pool of this.pools.values()) {
      if (!Object.hasOwn(rc.config.databases, pool.database)) {
        // Removed: its idle server connections close now, busy ones when their client is done
        // with them; sessions already in it go on, and the pool goes with the last (sweep).
        pool.reconnect();
        continue;
      }
      pool.target = upstreamTarget(rc, pool.database, pool.role);
      pool.settings = poolSettings(rc, pool.database, pool.role);
      pool.maxPacketSize = rc.config.max_packet_size;
    }
  }

  /**
   * The admin console's SET: the same configuration with other values of settings that apply
   * without re-reading any file (admin/live-settings.ts chooses them). Pools take their new
   * settings as a reload gives them; listeners, TLS and the access rules are not touched.
   */
  applySettings(config: Config): void {
    this.rc = { ...this.rc, config };
    for (const pool of this.pools.values()) {
      if (!Object.hasOwn(config.databases, pool.database)) continue;
      pool.target = upstreamTarget(this.rc, pool.database, pool.role);
      pool.settings = poolSettings(this.rc, pool.database, pool.role);
      pool.maxPacketSize = config.max_packet_size;
    }
  }

  /**
   * The graceful stop. /readyz says draining at once; the listener keeps accepting for
   * shutdown_drain_delay (so that a balancer's health check sees not-ready before the port
   * closes), then closes. Connections already accepted go on: a TLS handshake or a login in
   * progress becomes a session. Sessions may finish until `deadlineMs` after the call (the delay
   * counts in it); then whatever is left is closed. stopNow() cuts it short.
   */
  async shutdown(deadlineMs: number): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const started = Date.now();
    const forced = new Promise<void>((resolve) => (this.forceStop = resolve));
    const delay = Math.min(this.rc.config.shutdown_drain_delay, deadlineMs);
    this.log.info(
      { event: 'drain_started', ...this.inUse(), drain_delay_ms: delay, timeout_ms: deadlineMs },
      delay > 0 ? `draining: accepting for ${delay} ms more, then waiting for sessions to finish` : 'draining: waiting for sessions to finish',
    );
    let outcome: 'finished' | 'forced' | 'timeout' = 'finished';
    if (delay > 0) outcome = await waitFor(delay, forced, 'finished');
    this.listenerClosed = true;
    this.listener.close();
    if (outcome === 'finished') {
      const drained = new Promise<void>((resolve) => (this.onDrained = resolve));
      this.checkDrained();
      outcome = await waitFor(Math.max(0, deadlineMs - (Date.now() - started)), forced, 'timeout', drained);
    }
    this.onDrained = undefined;
    this.forceStop = undefined;
    const left = this.inUse();
    if (outcome === 'finished') this.log.info({ event: 'drain_finished', elapsed_ms: Date.now() - started }, 'drain finished: every session ended');
    else this.log.warn({ event: 'drain_forced', reason: outcome === 'forced' ? 'second signal' : 'shutdown_timeout', ...left }, 'drain cut short: closing what is left');
    this.closed = true;
    for (const conn of [...this.pending]) conn.close();
    const err = new PgmoatError('SHUTDOWN', 'terminating connection due to administrator command');
    for (const pool of this.pools.values()) pool.closeAll(err);
    if (this.janitor) clearInterval(this.janitor);
    this.access.stop();
    this.revocations.stop();
    this.tlsWatches.stop();
  }

  /** Ends a drain at once (a second SIGTERM or SIGINT); starts a stop without one when none runs. */
  stopNow(): void {
    if (this.forceStop) this.forceStop();
    else if (!this.stopping) void this.shutdown(0);
  }
}

/**
 * Waits `ms` (then: `onTimeout`), or for `forced` ('forced'), or for `done` ('finished'),
 * whichever comes first.
 */
async function waitFor(ms: number, forced: Promise<void>, onTimeout: 'finished' | 'timeout', done?: Promise<void>): Promise<'finished' | 'forced' | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'finished' | 'timeout'>((resolve) => (timer = setTimeout(() => resolve(onTimeout), ms)));
  try {
    return await Promise.race([timeout, forced.then(() => 'forced' as const), ...(done ? [done.then(() => 'finished' as const)] : [])]);
  } finally {
    clearTimeout(timer);
  }
}

/** Seconds since the connection's raw socket went to the tls.Server; undefined when it never did. */
function handshakeSeconds(conn: IncomingConnection): number | undefined {
  return conn.tlsStartedAt > 0 ? (performance.now() - conn.tlsStartedAt) / 1000 : undefined;
}
