/**
 * One pool of server connections for a (database, upstream role) pair, and the clients that use
 * it. Every phase change of a client or server goes through setClientPhase / setServerPhase,
 * which also moves it between the collections, so counts are derived and never stored twice.
 * One re-entry-guarded pump() hands idle servers to waiting clients.
 */
import type { Logger } from 'pino';
import { UpstreamError, type UpstreamSession } from '../upstream/connect.js';
import { ServerConnection, type ServerPhase } from '../relay/server-connection.js';
import type { ClientPool, PoolLogLevel, ServerPool } from '../relay/pool-port.js';
import { ClientSession, type ClientPhase } from '../relay/client-session.js';
import { settingsQuery } from '../relay/param-sync.js';
import { errorResponse, errorResponseFor, type ErrorFields } from '../protocol/error-response.js';
import { SqlState } from '../protocol/sqlstate.js';
import { TxStatus } from '../protocol/codes.js';
import { PgmoatError, assertNever, errorMessage } from '../util/errors.js';
import type { UpstreamTarget } from '../upstream/target.js';
import type { PoolSettings } from '../config/effective.js';
import { StatementRegistry } from '../relay/statement-registry.js';
import type { ConnectBackoff } from './connect-backoff.js';
import { ServerOpener, type ConnectUpstream, type PoolForOpener } from './server-opener.js';
import { describeServers } from './pool-state-text.js';
import { ClientStatements } from '../relay/tx-statements.js';
import { DurationHistogram } from '../util/duration-histogram.js';

/**
 * A pool with waiting clients and no server handed out for this long is reported as stalled
 * (or halfway to query_wait_timeout, when that comes sooner).
 */
const STALL_REPORT_MS = 10_000;

export interface PoolEvents {
  clientClosed(client: ClientSession, reason: string): void;
  /** max_db_connections / max_user_connections, counted across pools by the gateway. */
  mayOpenServer?(pool: Pool): boolean;
}

/** A server connection of a pool: its linked client is a ClientSession. */
export type Server = ServerConnection<ClientSession>;

export class Pool implements PoolForOpener, ClientPool<ClientSession>, ServerPool<Server> {
  readonly key: string;
  readonly idleServers: Server[] = [];
  readonly activeServers = new Set<Server>();
  readonly internalServers = new Set<Server>();
  readonly idleClients = new Set<ClientSession>();
  readonly waitingClients: ClientSession[] = [];
  readonly activeClients = new Set<ClientSession>();
  paused = false;
  private pauseWaiters: (() => void)[] = [];
  /** Counters for SHOW STATS and metrics. */
  readonly stats = { transactions: 0, queries: 0, waitMsTotal: 0, clientsServed: 0, serverConnects: 0, serverConnectFailures: 0, bytesIn: 0, bytesOut: 0 };
  /** Query and transaction durations (metrics, SHOW STATS), fed from onServerReady's timestamps. */
  readonly timings = { query: new DurationHistogram(), transaction: new DurationHistogram() };
  /** Opening server connections: attempts, backoff, logins waiting for the first one. */
  readonly opener: ServerOpener;
  /** When a server was last handed to a client (or there was nobody to hand one to). */
  private lastProgressAt = Date.now();
  /** When the upstream last closed a connection by itself: servers idle since before then are checked before reuse. */
  private suspectSince = 0;
  private stallReported = false;
  /** Server-side names of named prepared statements (transaction mode). */
  readonly statementRegistry = new StatementRegistry();
  private pumping = false;
  private pumpAgain = false;

  constructor(
    readonly database: string,
    readonly role: string,
    public target: UpstreamTarget,
    public settings: PoolSettings,
    public maxPacketSize: number,
    private readonly log: Logger,
    private readonly events: PoolEvents,
    connect?: ConnectUpstream,
  ) {
    this.key = `${database}/${role}`;
    this.opener = new ServerOpener(this, log, connect);
  }

  /** Transaction mode rewrites named prepared statements (PgBouncer's max_prepared_statements). */
  get tracksStatements(): boolean {
    return this.settings.poolMode !== 'session' && this.settings.maxPreparedStatements > 0;
  }

  newClientStatements(): ClientStatements | undefined {
    return this.tracksStatements ? new ClientStatements(this.statementRegistry) : undefined;
  }

  get serverCount(): number {
    return this.idleServers.length + this.activeServers.size + this.internalServers.size + this.opener.connecting;
  }

  /** Server connections being opened. */
  get connecting(): number {
    return this.opener.connecting;
  }

  get backoff(): ConnectBackoff {
    return this.opener.backoff;
  }

  get serverParams(): Map<string, string> | undefined {
    return this.opener.serverParams;
  }

  get waitingClientCount(): number {
    return this.waitingClients.length;
  }

  /** The last attempt to open a server connection failed (readiness: /readyz). */
  get lastConnectFailed(): boolean {
    return this.backoff.failures > 0;
  }

  mayOpen(): boolean {
    return this.events.mayOpenServer?.(this) !== false;
  }

  get clientCount(): number {
    return this.idleClients.size + this.waitingClients.length + this.activeClients.size;
  }

  // ---- phase transitions -------------------------------------------------------------

  private setServerPhase(server: Server, to: ServerPhase): void {
    const from = server.phase;
    switch (from) {
      case 'idle': {
        const i = this.idleServers.indexOf(server);
        if (i >= 0) this.idleServers.splice(i, 1);
        break;
      }
      case 'active':
        this.activeServers.delete(server);
        break;
      case 'internal':
        this.internalServers.delete(server);
        break;
      case 'closed':
        return; // closed is final
      default:
        assertNever(from, 'server phase');
    }
    server.phase = to;
    switch (to) {
      case 'idle':
        server.idleSince = Date.now();
        this.idleServers.push(server);
        break;
      case 'active':
        this.activeServers.add(server);
        break;
      case 'internal':
        this.internalServers.add(server);
        break;
      case 'closed':
        break;
      default:
        assertNever(to, 'server phase');
    }
  }

  private setClientPhase(client: ClientSession, to: ClientPhase): void {
    const from = client.phase;
    switch (from) {
      case 'idle':
        this.idleClients.delete(client);
        break;
      case 'waiting': {
        const i = this.waitingClients.indexOf(client);
        if (i >= 0) this.waitingClients.splice(i, 1);
        break;
      }
      case 'active':
        this.activeClients.delete(client);
        break;
      case 'closed':
        return;
      default:
        assertNever(from, 'client phase');
    }
    client.phase = to;
    switch (to) {
      case 'idle':
        this.idleClients.add(client);
        break;
      case 'waiting':
        client.waitingSince = Date.now();
        this.waitingClients.push(client);
        break;
      case 'active':
        this.activeClients.add(client);
        break;
      case 'closed':
        break;
      default:
        assertNever(to, 'client phase');
    }
  }

  // ---- clients -----------------------------------------------------------------------

  /** A client finished login: it joins the pool without a server. */
  addClient(client: ClientSession): void {
    this.idleClients.add(client); // a new client starts in phase 'idle'
  }

  requestServer(client: ClientSession): void {
    if (client.phase !== 'idle') return;
    this.setClientPhase(client, 'waiting');
    this.pump();
  }

  /** See ServerOpener.welcomeParams. */
  welcomeParams(deadline = 0, abandoned: () => boolean = () => false): Promise<Map<string, string>> {
    return this.opener.welcomeParams(deadline, abandoned);
  }

  closeClient(client: ClientSession, reason: string, error?: PgmoatError | ErrorFields): void {
    if (client.phase === 'closed') return;
    const server = client.server;
    // Part of a message may already be on the server: whatever comes next would be read as its rest.
    const leftMidMessage = server !== null && !client.scanner.atBoundary;
    this.setClientPhase(client, 'closed');
    client.server = null;
    // Bytes of live clients are summed at scrape time; a closed client's are kept here.
    this.stats.bytesIn += client.bytesIn;
    this.stats.bytesOut += client.socket.bytesWritten;
    client.destroy(error === undefined ? undefined : error instanceof PgmoatError ? errorResponseFor(error) : errorResponse(error));
    if (server) {
      server.client = null;
      server.appliedFor = null;
      if (leftMidMessage) this.closeServer(server, 'client left in the middle of a message', undefined, 'info');
      // Its session settings were still being applied: that SET must not outlive it on a pooled server.
      else if (server.phase === 'internal') this.closeServer(server, 'client left while its session settings were being applied', undefined, 'info');
      else this.releaseServer(server, true);
    }
    this.events.clientClosed(client, reason);
    this.pump();
  }

  // ---- servers -----------------------------------------------------------------------

  // ---- what the opener tells the pool ----------------------------------------------------

  serverOpened(upstream: UpstreamSession): void {
    this.idleServers.push(new ServerConnection<ClientSession>(this, upstream, this.maxPacketSize)); // a new server starts in phase 'idle'
  }

  retryDue(): void {
    this.pump();
  }

  /**
   * A failure that will not pass by itself (authentication, a missing database, TLS that does
   * not verify) and no server left: clients waiting for a server get it as an ERROR.
   */
  openFailedForGood(err: Error): void {
    const fields: ErrorFields =
      err instanceof UpstreamError && err.fields
        ? err.fields
        : {
            severity: 'ERROR',
            code: (err instanceof PgmoatError ? err.sqlstate : undefined) ?? SqlState.CONNECTION_FAILURE,
            message: errorMessage(err),
          };
    for (const client of [...this.waitingClients]) this.refuseClient(client, { ...fields, severity: 'ERROR' });
  }

  /** A waiting client gets `fields` as an ERROR for what it sent, and keeps its session. */
  private refuseClient(client: ClientSession, fields: ErrorFields): void {
    this.setClientPhase(client, 'idle');
    client.refuseWaiting(errorResponse(fields));
  }

  /**
   * A server connection died or must go. `clientError` tells the linked client why, when
   * pgmoat itself ended the connection. `level`: routine closes (idle timeout, lifetime) are
   * debug; a server lost or closed for a fault is worth an operator's eye.
   */
  closeServer(server: Server, reason: string, clientError?: PgmoatError, level: PoolLogLevel = 'debug'): void {
    if (server.phase === 'closed') return;
    let client = server.client;
    const phase = server.phase;
    const requeued = client !== null && phase === 'internal';
    if (client !== null && phase === 'internal') {
      // Its session settings were still being applied: the client has sent nothing to this
      // server yet, so it waits for another instead of losing its session.
      server.client = null;
      server.appliedFor = null;
      client.server = null;
      this.requeue(client);
      client = null;
    }
    this.setServerPhase(server, 'closed');
    server.client = null;
    server.destroy();
    if (client) {
      client.server = null;
      this.closeClient(
        client,
        `server connection lost: ${reason}`,
        clientError ??
          new PgmoatError('SERVER_LOST', 'server closed the connection unexpectedly', {
            sqlstate: SqlState.CONNECTION_FAILURE,
            detail: 'The upstream PostgreSQL connection ended while this session was using it.',
          }),
      );
    }
    this.log[level]({ event: 'server_closed', pool: this.key, server: server.id, backend_pid: server.backendPid, phase, had_client: client !== null || requeued, reason }, 'server connection closed');
    this.pump();
  }

  /**
   * Statement mode: a ReadyForQuery inside a transaction ends the client's session with an error
   * in place of it. Returns true when it did.
   */
  refuseTransaction(server: Server): boolean {
    const client = server.client;
    if (this.settings.poolMode !== 'statement' || client === null) return false;
    this.closeClient(
      client,
      'transaction in statement pooling mode',
      new PgmoatError('LONG_TRANSACTION', 'transaction blocks are not allowed in statement pooling mode', {
        sqlstate: SqlState.FEATURE_NOT_SUPPORTED,
        hint: 'Use pool_mode transaction or session for this database or role.',
      }),
    );
    return true;
  }

  /**
   * ReadyForQuery from a server: counts it, and returns true when the server may go back to the
   * pool (transaction mode, nothing pending). The caller finishes relaying the read first, then
   * calls releaseAfterReady.
   */
  onServerReady(server: Server): boolean {
    const client = server.client;
    // Timings reuse the ReadyForQuery timestamp: no clock read of their own on the data path.
    const at = server.lastResponseAt;
    this.stats.queries++;
    if (client !== null) {
      const started = Math.min(client.lastActivity, at);
      this.timings.query.observe(at - started);
      if (server.txStartedAt === 0) server.txStartedAt = started;
    }
    if (server.clean) {
      this.stats.transactions++;
      if (server.txStartedAt > 0) this.timings.transaction.observe(at - server.txStartedAt);
      server.txStartedAt = 0;
    }
    return client !== null && this.settings.poolMode !== 'session' && server.clean;
  }

  /** After a read that ended a transaction: unlinks the client unless something new came meanwhile. */
  releaseAfterReady(server: Server): void {
    const client = server.client;
    if (client === null || server.phase !== 'active' || !server.clean || !client.scanner.atBoundary) return;
    server.client = null;
    client.server = null;
    this.setClientPhase(client, 'idle');
    this.releaseServer(server, false);
    client.onUnlinked();
  }

  /**
   * Puts a server back after a client is done with it: reset when the session ended (or always
   * when configured), closed when it is not clean or due for retirement.
   */
  private releaseServer(server: Server, sessionEnded: boolean): void {
    if (server.phase === 'closed') return;
    const s = this.settings;
    const expired = s.serverLifetime > 0 && Date.now() - server.createdAt > s.serverLifetime;
    if (!server.clean) {
      this.closeServer(server, 'client left while the server was busy', undefined, 'info');
      return;
    }
    if (!server.scanner.atBoundary) {
      this.closeServer(server, 'server stopped in the middle of a message', undefined, 'warn');
      return;
    }
    if (server.retire || expired) {
      this.closeServer(server, 'retired');
      return;
    }
    const reset = s.serverResetQuery && (sessionEnded ? s.poolMode === 'session' || s.serverResetQueryAlways : s.serverResetQueryAlways);
    if (reset) {
      this.setServerPhase(server, 'internal');
      server.runInternal(s.serverResetQuery, 'reset', (error) => {
        if (server.phase !== 'internal') return;
        if (error || !server.clean) {
          this.closeServer(server, `reset query failed: ${error?.message ?? 'not idle'}`, undefined, 'warn');
          return;
        }
        server.statements.clear(); // DISCARD ALL deallocated them
        this.setServerPhase(server, 'idle');
        this.pump();
      });
      return;
    }
    this.setServerPhase(server, 'idle');
    this.pump();
  }

  private link(client: ClientSession, server: Server): void {
    const now = Date.now();
    this.lastProgressAt = now;
    // What it sent while waiting reaches a server now: query_timeout and the query timings count
    // from here, not from when it arrived (the wait is counted apart, in waitMsTotal).
    client.lastActivity = now;
    const waited = now - client.waitingSince;
    this.stats.waitMsTotal += waited;
    client.server = server;
    server.client = client;
    server.timesLinked++;
    this.setClientPhase(client, 'active');
    const sql = server.appliedFor === client ? undefined : settingsQuery(client.info.settings, server.params);
    server.appliedFor = client;
    if (sql === undefined) {
      this.setServerPhase(server, 'active');
      client.onLinked();
      return;
    }
    this.setServerPhase(server, 'internal');
    client.settingUp = true;
    server.runInternal(sql, 'settings', (error) => {
      if (server.phase !== 'internal' || client.phase !== 'active') return;
      if (error) {
        server.appliedFor = null;
        this.closeClient(client, 'startup settings refused', { ...error, severity: 'FATAL' });
        return;
      }
      this.setServerPhase(server, 'active');
      client.onLinked();
    });
  }

  /**
   * The upstream closed a server connection (it was not pgmoat). A restart, a crash recovery or
   * a failover ends the other connections too, and their hang-ups may still be on their way:
   * every connection idle since then is checked before a client gets it, so that no client's
   * transaction goes to a server that is already gone.
   */
  serverClosedByUpstream(server: Server): void {
    if (server.phase === 'closed') return;
    this.suspectSince = Date.now();
    this.closeServer(server, 'server closed the connection', undefined, 'info');
  }

  /** Hands idle servers to waiting clients, opening connections up to pool_size. */
  pump(): void {
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    this.pumping = true;
    try {
      do {
        this.pumpAgain = false;
        while (!this.paused && this.waitingClients.length > 0 && this.idleServers.length > 0) {
          const server = this.idleServers.pop()!;
          if (this.needsCheck(server)) {
            this.checkServer(server);
            continue;
          }
          this.link(this.waitingClients[0]!, server);
        }
        // A server being checked or reset is busy: it may never come back (a check that hangs),
        // so only connections being opened count as on their way.
        const wanted = this.paused ? 0 : this.waitingClients.length - this.connecting;
        const cap = this.capacity();
        for (let i = 0; i < wanted && this.serverCount < cap; i++) {
          if (this.backoff.blocked(Date.now()) || !this.mayOpen()) break;
          this.opener.open();
        }
      } while (this.pumpAgain);
    } finally {
      this.pumping = false;
    }
    if (this.paused && this.pauseWaiters.length > 0 && this.activeServers.size === 0 && this.internalServers.size === 0) {
      for (const resolve of this.pauseWaiters.splice(0)) resolve();
    }
  }

  /** pool_size, plus reserve_pool_size once the first waiting client has waited reserve_pool_timeout. */
  private capacity(): number {
    const s = this.settings;
    const first = this.waitingClients[0];
    if (s.reservePoolSize > 0 && first !== undefined && Date.now() - first.waitingSince >= s.reservePoolTimeout) {
      return s.poolSize + s.reservePoolSize;
    }
    return s.poolSize;
  }

  private needsCheck(server: Server): boolean {
    const s = this.settings;
    if (s.serverCheckQuery === '') return false;
    if (server.idleSince <= this.suspectSince) return true;
    return server.timesLinked > 0 && Date.now() - server.idleSince >= s.serverCheckDelay;
  }

  /** server_check_query on a connection idle for longer than server_check_delay, before reuse. */
  private checkServer(server: Server): void {
    server.phase = 'idle'; // popped from idleServers already: re-enter through setServerPhase below
    this.idleServers.push(server);
    this.setServerPhase(server, 'internal');
    server.runInternal(this.settings.serverCheckQuery, 'check', (error) => {
      if (server.phase !== 'internal') return;
      if (error || !server.clean) {
        this.closeServer(server, `server_check_query failed: ${error?.message ?? 'not idle'}`, undefined, 'warn');
        return;
      }
      // Checked just now: straight to the next waiting client, not through another check.
      const client = this.paused ? undefined : this.waitingClients[0];
      if (client) this.link(client, server);
      else this.setServerPhase(server, 'idle');
      this.pump();
    });
  }

  // ---- PAUSE / RESUME / RECONNECT ---------------------------------------------------------

  /** Holds new transactions; resolves once no server is in use (transactions or sessions ended). */
  pause(): Promise<void> {
    this.paused = true;
    return new Promise((resolve) => {
      this.pauseWaiters.push(resolve);
      this.pump();
    });
  }

  resume(): void {
    this.paused = false;
    this.pump();
  }

  /** Replaces every server connection as it becomes idle (upstream maintenance, failover). */
  reconnect(): void {
    for (const server of [...this.idleServers]) this.closeServer(server, 'RECONNECT');
    for (const server of [...this.activeServers, ...this.internalServers]) server.retire = true;
    this.pump();
  }

  // ---- janitor -----------------------------------------------------------------------

  /** Timeouts, swept by the gateway's one janitor timer (every 250 ms). */
  sweep(now: number): void {
    const s = this.settings;
    this.sweepInternalQueries(now);
    if (s.queryTimeout > 0) this.sweepQueryTimeout(now, s.queryTimeout);
    if (s.queryWaitTimeout > 0) {
      for (const client of [...this.waitingClients]) {
        if (now - client.waitingSince < s.queryWaitTimeout) continue;
        const detail = this.waitDetail(now);
        this.refuseClient(client, {
          severity: 'ERROR',
          code: SqlState.QUERY_CANCELED,
          message: `no server connection became available within query_wait_timeout (${s.queryWaitTimeout / 1000} s)`,
          detail,
          hint: 'The session is still open: the statement can be sent again.',
        });
        this.log.warn({ event: 'query_wait_timeout', pool: this.key, client: client.id, detail }, 'a client waited query_wait_timeout for a server connection');
      }
    }
    if (s.idleTransactionTimeout > 0) {
      for (const client of [...this.activeClients]) {
        const server = client.server;
        // A client that stopped in the middle of a message, or of an extended-protocol batch (no
        // Sync yet), holds its server as surely as one idle in a transaction.
        const holding = server !== null && server.outstanding === 0 && (server.txStatus !== TxStatus.Idle || server.extendedOpen || !client.scanner.atBoundary);
        if (!holding || now - Math.max(client.lastActivity, server.lastResponseAt) < s.idleTransactionTimeout) continue;
        this.closeClient(
          client,
          'idle_transaction_timeout',
          new PgmoatError('IDLE_TRANSACTION_TIMEOUT', 'terminating connection due to idle_transaction_timeout', {
            sqlstate: SqlState.IDLE_IN_TRANSACTION_SESSION_TIMEOUT,
          }),
        );
      }
    }
    if (s.clientIdleTimeout > 0) {
      // Idle: no server, or (session mode) a server with nothing pending outside a transaction.
      const candidates = [...this.idleClients, ...[...this.activeClients].filter((c) => c.server?.clean === true && !c.settingUp && c.scanner.atBoundary)];
      for (const client of candidates) {
        if (now - Math.max(client.lastActivity, client.server?.lastResponseAt ?? 0) < s.clientIdleTimeout) continue;
        this.closeClient(
          client,
          'client_idle_timeout',
          new PgmoatError('CLIENT_IDLE_TIMEOUT', 'terminating connection due to client_idle_timeout', { sqlstate: SqlState.IDLE_SESSION_TIMEOUT }),
        );
      }
    }
    const keep = s.minPoolSize;
    for (const server of [...this.idleServers]) {
      const idleFor = now - server.idleSince;
      const age = now - server.createdAt;
      if (s.serverLifetime > 0 && age > s.serverLifetime) this.closeServer(server, 'server_lifetime');
      else if (s.serverIdleTimeout > 0 && idleFor > s.serverIdleTimeout && this.serverCount > keep) this.closeServer(server, 'server_idle_timeout');
      else if (server.retire) this.closeServer(server, 'retired');
    }
    while (!this.paused && this.serverCount < keep && !this.backoff.blocked(now) && this.mayOpen()) this.opener.open();
    this.opener.sweep(now);
    this.pump();
    this.watchProgress(now);
  }

  /**
   * pgmoat's own queries (check, reset, startup settings) get internal_query_timeout: a server
   * that does not answer in time (stopped, or fed half a message by a client before) is closed
   * and replaced (a client whose settings were being applied waits for another: closeServer).
   */
  private sweepInternalQueries(now: number): void {
    for (const server of [...this.internalServers]) {
      if (server.internalDeadline === 0 || now < server.internalDeadline) continue;
      const reason = `${server.internalPurpose} query did not answer within internal_query_timeout (${this.settings.internalQueryTimeout} ms)`;
      this.closeServer(server, reason, undefined, 'warn');
    }
  }

  /**
   * query_timeout: a server that has owed an answer for this long (a network that lost it, an
   * upstream that stopped) is closed, and its client told; as PgBouncer's, meant to sit a little
   * above the server's statement_timeout, for the failures statement_timeout cannot see.
   */
  private sweepQueryTimeout(now: number, timeout: number): void {
    for (const server of [...this.activeServers]) {
      if (server.busySince === 0 || now - server.busySince < timeout) continue;
      this.closeServer(
        server,
        'query_timeout',
        new PgmoatError('QUERY_TIMEOUT', `canceling query due to query_timeout (${timeout / 1000} s)`, {
          sqlstate: SqlState.QUERY_CANCELED,
          detail: 'The server did not finish answering within query_timeout; pgmoat closed its connection to it.',
        }),
        'warn',
      );
    }
  }

  /** Back to the head of the queue, keeping its place in time (query_wait_timeout still counts). */
  private requeue(client: ClientSession): void {
    client.settingUp = false;
    const since = client.waitingSince;
    this.setClientPhase(client, 'waiting');
    client.waitingSince = since;
    const i = this.waitingClients.indexOf(client);
    if (i > 0) {
      this.waitingClients.splice(i, 1);
      this.waitingClients.unshift(client);
    }
  }

  /** A pool whose waiting clients get no server for a while says so once, with what its servers are doing. */
  private watchProgress(now: number): void {
    if (this.waitingClients.length === 0) {
      if (this.stallReported) this.log.info({ event: 'pool_progress', pool: this.key }, 'pool has no client waiting any more');
      this.stallReported = false;
      this.lastProgressAt = now;
      return;
    }
    const wait = this.settings.queryWaitTimeout;
    const stallMs = wait > 0 ? Math.min(STALL_REPORT_MS, wait / 2) : STALL_REPORT_MS;
    if (this.stallReported) {
      if (this.lastProgressAt > now - stallMs) {
        this.stallReported = false;
        this.log.info({ event: 'pool_progress', pool: this.key }, 'pool hands out server connections again');
      }
      return;
    }
    if (now - this.lastProgressAt < stallMs) return;
    this.stallReported = true;
    this.log.warn(
      { event: 'pool_stalled', pool: this.key, waiting_clients: this.waitingClients.length, stalled_ms: now - this.lastProgressAt, detail: this.waitDetail(now) },
      'no server connection was handed out while clients waited',
    );
  }

  /** What the pool's servers are doing, for a client that waited in vain and for the log. */
  private waitDetail(now: number): string {
    return describeServers(
      {
        poolKey: this.key,
        poolSize: this.capacity(),
        active: this.activeServers.size,
        internal: this.internalServers.size,
        connecting: this.connecting,
        idle: this.idleServers.length,
        paused: this.paused,
        waiting: this.waitingClients.length,
        lastConnectError: this.backoff.lastError === undefined ? undefined : errorMessage(this.backoff.lastError),
        lastConnectErrorAgoMs: this.backoff.lastError === undefined ? 0 : now - this.backoff.lastErrorAt,
        limitReached: !this.mayOpen(),
      },
    );
  }

  /** Ends every client and server (shutdown, KILL). */
  closeAll(error: PgmoatError): void {
    this.opener.stop();
    for (const c of [...this.idleClients, ...this.waitingClients, ...this.activeClients]) this.closeClient(c, error.message, error);
    for (const s of [...this.idleServers, ...this.activeServers, ...this.internalServers]) this.closeServer(s, error.message);
  }
}
