/**
 * One pool of server connections for a (database, upstream role) pair, and the clients that use
 * it. Every phase change of a client or server goes through setClientPhase / setServerPhase,
 * which also moves it between the collections, so counts are derived and never stored twice.
 * One re-entry-guarded pump() hands idle servers to waiting clients.
 */
import type { Logger } from 'pino';
import { connectUpstream, UpstreamError } from '../session/upstream-connect.js';
import { ServerConnection, type ServerPhase } from '../session/server-connection.js';
import { ClientSession, type ClientPhase } from '../session/client-session.js';
import { settingsQuery } from '../session/param-sync.js';
import { errorResponse, errorResponseFor, type ErrorFields } from '../protocol/error-response.js';
import { SqlState } from '../protocol/sqlstate.js';
import { PgmoatError, assertNever, errorMessage } from '../util/errors.js';
import type { UpstreamTarget } from '../session/upstream-target.js';
import type { PoolSettings } from '../config/effective.js';
import { StatementRegistry } from './statement-registry.js';
import { ClientStatements } from '../session/tx-statements.js';
import { DurationHistogram } from '../admin/duration-histogram.js';

/** Connection failures back off so that a down upstream is not hammered. */
const CONNECT_BACKOFF_MS = 500;

export interface PoolEvents {
  clientClosed(client: ClientSession, reason: string): void;
  serverError(pool: Pool, err: Error): void;
  /** max_db_connections / max_user_connections, counted across pools by the gateway. */
  mayOpenServer?(pool: Pool): boolean;
}

export class Pool {
  readonly key: string;
  readonly idleServers: ServerConnection[] = [];
  readonly activeServers = new Set<ServerConnection>();
  readonly internalServers = new Set<ServerConnection>();
  connecting = 0;
  readonly idleClients = new Set<ClientSession>();
  readonly waitingClients: ClientSession[] = [];
  readonly activeClients = new Set<ClientSession>();
  /** ParameterStatus of the first server login, told to clients at their login. */
  serverParams: Map<string, string> | undefined;
  paused = false;
  private pauseWaiters: (() => void)[] = [];
  /** Counters for SHOW STATS and metrics. */
  readonly stats = { transactions: 0, queries: 0, waitMsTotal: 0, clientsServed: 0, serverConnects: 0, serverConnectFailures: 0, bytesIn: 0, bytesOut: 0 };
  /** Query and transaction durations (metrics, SHOW STATS), fed from onServerReady's timestamps. */
  readonly timings = { query: new DurationHistogram(), transaction: new DurationHistogram() };
  /** The last attempt to open a server connection failed (readiness: /readyz). */
  lastConnectFailed = false;
  /** Server-side names of named prepared statements (transaction mode). */
  readonly statementRegistry = new StatementRegistry();
  private pumping = false;
  private pumpAgain = false;
  private connectBlockedUntil = 0;
  private paramsWaiters: { resolve: (p: Map<string, string>) => void; reject: (e: Error) => void }[] = [];

  constructor(
    readonly database: string,
    readonly role: string,
    public target: UpstreamTarget,
    public settings: PoolSettings,
    public maxPacketSize: number,
    private readonly log: Logger,
    private readonly events: PoolEvents,
  ) {
    this.key = `${database}/${role}`;
  }

  /** Transaction mode rewrites named prepared statements (PgBouncer's max_prepared_statements). */
  get tracksStatements(): boolean {
    return this.settings.poolMode !== 'session' && this.settings.maxPreparedStatements > 0;
  }

  newClientStatements(): ClientStatements | undefined {
    return this.tracksStatements ? new ClientStatements(this.statementRegistry) : undefined;
  }

  get serverCount(): number {
    return this.idleServers.length + this.activeServers.size + this.internalServers.size + this.connecting;
  }

  get clientCount(): number {
    return this.idleClients.size + this.waitingClients.length + this.activeClients.size;
  }

  // ---- phase transitions -------------------------------------------------------------

  private setServerPhase(server: ServerConnection, to: ServerPhase): void {
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

  /**
   * The server parameters clients are told at login. The first login of a pool needs one
   * server connection to learn them.
   */
  welcomeParams(): Promise<Map<string, string>> {
    if (this.serverParams) return Promise.resolve(this.serverParams);
    return new Promise((resolve, reject) => {
      this.paramsWaiters.push({ resolve, reject });
      // At max_db_connections / max_user_connections the janitor opens it once there is room.
      if (this.serverCount === 0 && this.events.mayOpenServer?.(this) !== false) this.openServer();
    });
  }

  closeClient(client: ClientSession, reason: string, error?: PgmoatError | ErrorFields): void {
    if (client.phase === 'closed') return;
    const server = client.server;
    this.setClientPhase(client, 'closed');
    client.server = null;
    // Bytes of live clients are summed at scrape time; a closed client's are kept here.
    this.stats.bytesIn += client.bytesIn;
    this.stats.bytesOut += client.socket.bytesWritten;
    client.destroy(error === undefined ? undefined : error instanceof PgmoatError ? errorResponseFor(error) : errorResponse(error));
    if (server) {
      server.client = null;
      server.appliedFor = null;
      this.releaseServer(server, true);
    }
    this.events.clientClosed(client, reason);
    this.pump();
  }

  // ---- servers -----------------------------------------------------------------------

  private openServer(): void {
    const now = Date.now();
    if (now < this.connectBlockedUntil) return;
    this.connecting++;
    this.stats.serverConnects++;
    connectUpstream(this.target).then(
      (upstream) => {
        this.connecting--;
        this.lastConnectFailed = false;
        const server = new ServerConnection(this, upstream, this.maxPacketSize);
        this.idleServers.push(server); // a new server starts in phase 'idle'
        if (!this.serverParams) {
          this.serverParams = new Map(upstream.params);
          for (const w of this.paramsWaiters.splice(0)) w.resolve(this.serverParams);
        }
        this.pump();
      },
      (err: Error) => {
        this.connecting--;
        this.stats.serverConnectFailures++;
        this.lastConnectFailed = true;
        this.connectBlockedUntil = Date.now() + CONNECT_BACKOFF_MS;
        this.events.serverError(this, err);
        this.failWaiters(err);
      },
    );
  }

  /** After a failed connect with no server left to serve them, waiting clients get the error. */
  private failWaiters(err: Error): void {
    const live = this.idleServers.length + this.activeServers.size + this.internalServers.size + this.connecting;
    if (live > 0) return;
    const error =
      err instanceof UpstreamError && err.fields
        ? { ...err.fields, severity: 'FATAL' }
        : err instanceof PgmoatError
          ? err
          : new PgmoatError('UPSTREAM_CONNECT', errorMessage(err), { sqlstate: SqlState.CONNECTION_FAILURE });
    for (const w of this.paramsWaiters.splice(0)) w.reject(err);
    for (const client of [...this.waitingClients]) this.closeClient(client, 'upstream connection failed', error);
  }

  /** A server connection died or must go. */
  /** `clientError` tells the linked client why, when pgmoat itself ended the connection. */
  closeServer(server: ServerConnection, reason: string, clientError?: PgmoatError): void {
    if (server.phase === 'closed') return;
    const client = server.client;
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
    this.log.debug({ pool: this.key, server: server.id, reason }, 'server connection closed');
    this.pump();
  }

  /**
   * Statement mode: a ReadyForQuery inside a transaction ends the client's session with an error
   * in place of it. Returns true when it did.
   */
  refuseTransaction(server: ServerConnection): boolean {
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
  onServerReady(server: ServerConnection): boolean {
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
  releaseAfterReady(server: ServerConnection): void {
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
  private releaseServer(server: ServerConnection, sessionEnded: boolean): void {
    if (server.phase === 'closed') return;
    const s = this.settings;
    const expired = s.serverLifetime > 0 && Date.now() - server.createdAt > s.serverLifetime;
    if (!server.clean || server.retire || expired) {
      this.closeServer(server, server.clean ? 'retired' : 'client left while the server was busy');
      return;
    }
    const reset = s.serverResetQuery && (sessionEnded ? s.poolMode === 'session' || s.serverResetQueryAlways : s.serverResetQueryAlways);
    if (reset) {
      this.setServerPhase(server, 'internal');
      server.runInternal(s.serverResetQuery, (error) => {
        if (server.phase !== 'internal') return;
        if (error || !server.clean) {
          this.closeServer(server, `reset query failed: ${error?.message ?? 'not idle'}`);
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

  private link(client: ClientSession, server: ServerConnection): void {
    const waited = Date.now() - client.waitingSince;
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
    server.runInternal(sql, (error) => {
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
        // Servers being reset or checked will be idle in a moment: count them as on their way.
        const wanted = this.paused ? 0 : this.waitingClients.length - this.connecting - this.internalServers.size;
        const cap = this.capacity();
        for (let i = 0; i < wanted && this.serverCount < cap; i++) {
          if (Date.now() < this.connectBlockedUntil || this.events.mayOpenServer?.(this) === false) break;
          this.openServer();
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

  private needsCheck(server: ServerConnection): boolean {
    const s = this.settings;
    return s.serverCheckQuery !== '' && server.timesLinked > 0 && Date.now() - server.idleSince >= s.serverCheckDelay;
  }

  /** server_check_query on a connection idle for longer than server_check_delay, before reuse. */
  private checkServer(server: ServerConnection): void {
    server.phase = 'idle'; // popped from idleServers already: re-enter through setServerPhase below
    this.idleServers.push(server);
    this.setServerPhase(server, 'internal');
    server.runInternal(this.settings.serverCheckQuery, (error) => {
      if (server.phase !== 'internal') return;
      if (error || !server.clean) {
        this.closeServer(server, `server_check_query failed: ${error?.message ?? 'not idle'}`);
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

  /** Timeouts, swept once a second by the gateway's one janitor timer. */
  sweep(now: number): void {
    const s = this.settings;
    if (s.queryWaitTimeout > 0) {
      for (const client of [...this.waitingClients]) {
        if (now - client.waitingSince < s.queryWaitTimeout) continue;
        this.closeClient(
          client,
          'query_wait_timeout',
          new PgmoatError('QUERY_WAIT_TIMEOUT', `no server connection became available within query_wait_timeout (${s.queryWaitTimeout / 1000} s)`, {
            sqlstate: SqlState.QUERY_CANCELED,
            detail: `All ${s.poolSize} connections of pool ${this.key} stayed busy.`,
          }),
        );
      }
    }
    if (s.idleTransactionTimeout > 0) {
      for (const client of [...this.activeClients]) {
        const server = client.server;
        if (!server || server.txStatus === 0x49 || server.outstanding > 0) continue;
        if (now - Math.max(client.lastActivity, server.lastResponseAt) < s.idleTransactionTimeout) continue;
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
      const candidates = [...this.idleClients, ...[...this.activeClients].filter((c) => c.server?.clean === true)];
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
    while (!this.paused && this.serverCount < keep && now >= this.connectBlockedUntil && this.events.mayOpenServer?.(this) !== false) this.openServer();
    // Logins that arrived while connects were backing off wait for the server parameters: once
    // the backoff is over, one attempt answers all of them (with the parameters or the error).
    if (this.paramsWaiters.length > 0 && this.serverCount === 0 && this.events.mayOpenServer?.(this) !== false) this.openServer();
    this.pump();
  }

  /** Ends every client and server (shutdown, KILL). */
  closeAll(error: PgmoatError): void {
    for (const c of [...this.idleClients, ...this.waitingClients, ...this.activeClients]) this.closeClient(c, error.message, error);
    for (const s of [...this.idleServers, ...this.activeServers, ...this.internalServers]) this.closeServer(s, error.message);
  }
}
