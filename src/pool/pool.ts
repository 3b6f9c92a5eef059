/**
 * One pool of server connections for a (database, upstream role) pair, and the clients that use
 * it. This is the face the gateway, the admin console and the relay see; the work is done by
 * its parts, each in its own file:
 * - PoolMembers (pool-members.ts): the clients and servers by phase; every phase change;
 * - ServerHandoff (server-handoff.ts): pump, link and release, PAUSE/RESUME/RECONNECT;
 * - PoolJanitor (pool-janitor.ts): the timeouts, swept by the gateway's janitor timer;
 * - ServerOpener (server-opener.ts): opening server connections, backoff, first parameters.
 * Teardown stays here: one closeClient and one closeServer.
 */
import type { Logger } from 'pino';
import { UpstreamError, type UpstreamSession } from '../upstream/connect.js';
import { ServerConnection } from '../relay/server-connection.js';
import type { ClientPool, PoolLogLevel, ServerPool } from '../relay/pool-port.js';
import type { ClientSession } from '../relay/client-session.js';
import { errorResponse, errorResponseFor, type ErrorFields } from '../protocol/error-response.js';
import { SqlState } from '../util/sqlstate.js';
import { PgmoatError, errorMessage } from '../util/errors.js';
import type { UpstreamTarget } from '../upstream/target.js';
import type { PoolSettings } from '../config/effective.js';
import { StatementRegistry } from '../relay/statement-registry.js';
import { ClientStatements } from '../relay/tx-statements.js';
import { DurationHistogram } from '../util/duration-histogram.js';
import type { ConnectBackoff } from './connect-backoff.js';
import { ServerOpener, type ConnectUpstream, type PoolForOpener } from './server-opener.js';
import { PoolMembers, type Server } from './pool-members.js';
import { ServerHandoff, type HandoffPool } from './server-handoff.js';
import { PoolJanitor, type SweptPool } from './pool-janitor.js';

export type { Server } from './pool-members.js';

export interface PoolEvents {
  clientClosed(client: ClientSession, reason: string): void;
  /** max_db_connections / max_user_connections, counted across pools by the gateway. */
  mayOpenServer?(pool: Pool): boolean;
}

export class Pool implements PoolForOpener, HandoffPool, SweptPool, ClientPool<ClientSession>, ServerPool<Server> {
  readonly key: string;
  /** The clients and servers by phase (read them through the views below). */
  readonly members = new PoolMembers();
  /** Counters for SHOW STATS and metrics. */
  readonly stats = { transactions: 0, queries: 0, waitMsTotal: 0, clientsServed: 0, serverConnects: 0, serverConnectFailures: 0, bytesIn: 0, bytesOut: 0 };
  /** Query and transaction durations (metrics, SHOW STATS), fed from onServerReady's timestamps. */
  readonly timings = { query: new DurationHistogram(), transaction: new DurationHistogram() };
  /** Opening server connections: attempts, backoff, logins waiting for the first one. */
  readonly opener: ServerOpener;
  /** Server-side names of named prepared statements (transaction mode). */
  readonly statementRegistry = new StatementRegistry();
  private readonly handoff: ServerHandoff;
  private readonly janitor: PoolJanitor;

  constructor(
    readonly database: string,
    readonly role: string,
    public target: UpstreamTarget,
    public settings: PoolSettings,
    public maxPacketSize: number,
    private readonly log: Logger,
    private readonly events: PoolEvents,
    /** Opens one server connection; tests give a fake. */
    connect?: ConnectUpstream,
  ) {
    this.key = `${database}/${role}`;
    this.opener = new ServerOpener(this, log, connect);
    this.handoff = new ServerHandoff(this, this.members, this.opener);
    this.janitor = new PoolJanitor(this, this.members, this.handoff, this.opener, log);
  }

  // ---- views --------------------------------------------------------------------------------

  get idleServers(): readonly Server[] {
    return this.members.idleServers;
  }

  get activeServers(): ReadonlySet<Server> {
    return this.members.activeServers;
  }

  get internalServers(): ReadonlySet<Server> {
    return this.members.internalServers;
  }

  get idleClients(): ReadonlySet<ClientSession> {
    return this.members.idleClients;
  }

  get waitingClients(): readonly ClientSession[] {
    return this.members.waitingClients;
  }

  get activeClients(): ReadonlySet<ClientSession> {
    return this.members.activeClients;
  }

  /** Every client of the pool (see PoolMembers.clients for the order). */
  clients(): Generator<ClientSession, void, undefined> {
    return this.members.clients();
  }

  /** Every open server connection of the pool. */
  servers(): Generator<Server, void, undefined> {
    return this.members.servers();
  }

  get paused(): boolean {
    return this.handoff.paused;
  }

  /** Transaction mode rewrites named prepared statements (PgBouncer's max_prepared_statements). */
  get tracksStatements(): boolean {
    return this.settings.poolMode !== 'session' && this.settings.maxPreparedStatements > 0;
  }

  /** Server connections open or being opened. */
  get serverCount(): number {
    return this.members.openServers + this.opener.connecting;
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
    return this.members.waitingClients.length;
  }

  /** The last attempt to open a server connection failed (readiness: /readyz). */
  get lastConnectFailed(): boolean {
    return this.backoff.failures > 0;
  }

  get clientCount(): number {
    return this.members.clientCount;
  }

  mayOpen(): boolean {
    return this.events.mayOpenServer?.(this) !== false;
  }

  // ---- clients ------------------------------------------------------------------------------

  /** A client finished login: it joins the pool without a server. */
  addClient(client: ClientSession): void {
    this.members.addClient(client);
  }

  newClientStatements(): ClientStatements | undefined {
    return this.tracksStatements ? new ClientStatements(this.statementRegistry) : undefined;
  }

  requestServer(client: ClientSession): void {
    if (client.phase !== 'idle') return;
    this.members.setClientPhase(client, 'waiting');
    this.handoff.pump();
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
    this.members.setClientPhase(client, 'closed');
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
      else this.handoff.releaseServer(server, true);
    }
    this.events.clientClosed(client, reason);
    this.handoff.pump();
  }

  /** A waiting client gets `fields` as an ERROR for what it sent, and keeps its session. */
  refuseClient(client: ClientSession, fields: ErrorFields): void {
    this.members.setClientPhase(client, 'idle');
    client.refuseWaiting(errorResponse(fields));
  }

  // ---- what the opener tells the pool ------------------------------------------------------

  serverOpened(upstream: UpstreamSession): void {
    this.members.addServer(new ServerConnection<ClientSession>(this, upstream, this.maxPacketSize));
  }

  retryDue(): void {
    this.handoff.pump();
  }

  /**
   * A failure that will not pass by itself (authentication, a missing database, TLS that does
   * not verify) and no server left: clients waiting for a server get it as an ERROR.
   */
  openFailedForGood(err: Error): void {
    // The routine field carries pgmoat's code (UPSTREAM_TLS, UPSTREAM_LOGIN_REFUSED, ...), as in
    // the FATAL a login gets for the same failure: the doctor tells upstream failures apart by it.
    const code = err instanceof PgmoatError ? { routine: err.code } : {};
    const fields: ErrorFields =
      err instanceof UpstreamError && err.fields
        ? { ...err.fields, ...code }
        : {
            severity: 'ERROR',
            code: (err instanceof PgmoatError ? err.sqlstate : undefined) ?? SqlState.CONNECTION_FAILURE,
            message: errorMessage(err),
            ...code,
          };
    for (const client of [...this.members.waitingClients]) this.refuseClient(client, { ...fields, severity: 'ERROR' });
  }

  // ---- servers ------------------------------------------------------------------------------

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
      client.settingUp = false;
      this.members.requeueFirst(client);
      client = null;
    }
    this.members.setServerPhase(server, 'closed');
    server.client = null;
    server.destroy();
    if (client) {
      client.server = null;
      this.closeClient(
        client,
        `server connection lost: ${reason}`,
        clientError ??
          new PgmoatError('SERVER_LOST', 'server closed the connection unexpectedly', {
            detail: 'The upstream PostgreSQL connection ended while this session was using it.',
          }),
      );
    }
    this.log[level]({ event: 'server_closed', pool: this.key, server: server.id, backend_pid: server.backendPid, phase, had_client: client !== null || requeued, reason }, 'server connection closed');
    this.handoff.pump();
  }

  /**
   * The upstream closed a server connection (it was not pgmoat). A restart, a crash recovery or
   * a failover ends the other connections too, and their hang-ups may still be on their way:
   * every connection idle since then is checked before a client gets it, so that no client's
   * transaction goes to a server that is already gone.
   */
  serverClosedByUpstream(server: Server): void {
    if (server.phase === 'closed') return;
    this.handoff.suspectSince = Date.now();
    this.closeServer(server, 'server closed the connection', undefined, 'info');
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
    this.handoff.releaseAfterReady(server);
  }

  // ---- PAUSE / RESUME / RECONNECT / KILL, janitor -------------------------------------------

  /** Holds new transactions; resolves once no server is in use (transactions or sessions ended). */
  pause(): Promise<void> {
    return this.handoff.pause();
  }

  resume(): void {
    this.handoff.resume();
  }

  /** Replaces every server connection as it becomes idle (upstream maintenance, failover). */
  reconnect(): void {
    this.handoff.reconnect();
  }

  /** Ends every client and server (shutdown, KILL). */
  closeAll(error: PgmoatError): void {
    this.opener.stop();
    for (const c of [...this.members.clients()]) this.closeClient(c, error.message, error);
    for (const s of [...this.members.servers()]) this.closeServer(s, error.message);
  }

  /** Timeouts: called on each tick of the gateway's janitor timer (see PoolJanitor). */
  sweep(now: number): void {
    this.janitor.sweep(now);
  }
}
