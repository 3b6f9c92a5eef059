/**
 * A pool's timeouts, swept on each tick of the gateway's one janitor timer (JANITOR_INTERVAL_MS
 * in gateway/gateway.ts: every 250 ms) rather than by a timer per connection: pgmoat's own
 * queries past internal_query_timeout, query_timeout, query_wait_timeout,
 * idle_transaction_timeout, client_idle_timeout, server_lifetime and server_idle_timeout,
 * min_pool_size, and a report when waiting clients get no server for a while.
 */
import type { Logger } from 'pino';
import type { PoolSettings } from '../config/effective.js';
import { TxStatus } from '../protocol/codes.js';
import type { ErrorFields } from '../protocol/error-response.js';
import { SqlState } from '../util/sqlstate.js';
import type { ClientSession } from '../relay/client-session.js';
import type { PoolLogLevel } from '../relay/pool-port.js';
import { PgmoatError, errorMessage } from '../util/errors.js';
import type { PoolMembers, Server } from './pool-members.js';
import { describeServers } from './pool-state-text.js';
import type { ServerHandoff } from './server-handoff.js';
import type { ServerOpener } from './server-opener.js';

/**
 * A pool with waiting clients and no server handed out for this long is reported as stalled
 * (or halfway to query_wait_timeout, when that comes sooner).
 */
const STALL_REPORT_MS = 10_000;

/** What the janitor needs of its pool. */
export interface SweptPool {
  readonly key: string;
  /** Read at each sweep: a reload replaces it. */
  readonly settings: PoolSettings;
  mayOpen(): boolean;
  /** A waiting client gets `fields` as an ERROR for what it sent, and keeps its session. */
  refuseClient(client: ClientSession, fields: ErrorFields): void;
  closeClient(client: ClientSession, reason: string, error?: PgmoatError | ErrorFields): void;
  closeServer(server: Server, reason: string, clientError?: PgmoatError, level?: PoolLogLevel): void;
}

export class PoolJanitor {
  private stallReported = false;

  constructor(
    private readonly pool: SweptPool,
    private readonly members: PoolMembers,
    private readonly handoff: ServerHandoff,
    private readonly opener: ServerOpener,
    private readonly log: Logger,
  ) {}

  sweep(now: number): void {
    const s = this.pool.settings;
    this.sweepInternalQueries(now);
    if (s.queryTimeout > 0) this.sweepQueryTimeout(now, s.queryTimeout);
    if (s.queryWaitTimeout > 0) this.sweepWaits(now, s.queryWaitTimeout);
    if (s.idleTransactionTimeout > 0) this.sweepIdleTransactions(now, s.idleTransactionTimeout);
    if (s.clientIdleTimeout > 0) this.sweepIdleClients(now, s.clientIdleTimeout);
    this.sweepIdleServers(now, s);
    const keep = s.minPoolSize;
    while (!this.handoff.paused && this.members.openServers + this.opener.connecting < keep && !this.opener.backoff.blocked(now) && this.pool.mayOpen()) {
      this.opener.open();
    }
    this.opener.sweep(now);
    this.handoff.pump();
    this.watchProgress(now);
  }

  /**
   * pgmoat's own queries (check, reset, startup settings) get internal_query_timeout: a server
   * that does not answer in time (stopped, or fed half a message by a client before) is closed
   * and replaced (a client whose settings were being applied waits for another: closeServer).
   */
  private sweepInternalQueries(now: number): void {
    for (const server of [...this.members.internalServers]) {
      if (server.internalDeadline === 0 || now < server.internalDeadline) continue;
      const reason = `${server.internalPurpose} query did not answer within internal_query_timeout (${this.pool.settings.internalQueryTimeout} ms)`;
      this.pool.closeServer(server, reason, undefined, 'warn');
    }
  }

  /**
   * query_timeout: a server that has owed an answer for this long (a network that lost it, an
   * upstream that stopped) is closed, and its client told; as PgBouncer's, meant to sit a little
   * above the server's statement_timeout, for the failures statement_timeout cannot see.
   */
  private sweepQueryTimeout(now: number, timeout: number): void {
    for (const server of [...this.members.activeServers]) {
      if (server.busySince === 0 || now - server.busySince < timeout) continue;
      this.pool.closeServer(
        server,
        'query_timeout',
        new PgmoatError('QUERY_TIMEOUT', `canceling query due to query_timeout (${timeout / 1000} s)`, {
          detail: 'The server did not finish answering within query_timeout; pgmoat closed its connection to it.',
        }),
        'warn',
      );
    }
  }

  /** query_wait_timeout: what a client sent while waiting is answered with an ERROR; its session stays. */
  private sweepWaits(now: number, timeout: number): void {
    for (const client of [...this.members.waitingClients]) {
      if (now - client.waitingSince < timeout) continue;
      const detail = this.waitDetail(now);
      this.pool.refuseClient(client, {
        severity: 'ERROR',
        code: SqlState.QUERY_CANCELED,
        message: `no server connection became available within query_wait_timeout (${timeout / 1000} s)`,
        detail,
        hint: 'The session is still open: the statement can be sent again.',
        routine: 'QUERY_WAIT_TIMEOUT',
      });
      this.log.warn({ event: 'query_wait_timeout', pool: this.pool.key, client: client.id, detail }, 'a client waited query_wait_timeout for a server connection');
    }
  }

  private sweepIdleTransactions(now: number, timeout: number): void {
    for (const client of [...this.members.activeClients]) {
      const server = client.server;
      // A client that stopped in the middle of a message, or of an extended-protocol batch (no
      // Sync yet), holds its server as surely as one idle in a transaction.
      const holding = server !== null && server.outstanding === 0 && (server.txStatus !== TxStatus.Idle || server.extendedOpen || !client.scanner.atBoundary);
      if (!holding || now - Math.max(client.lastActivity, server.lastResponseAt) < timeout) continue;
      this.pool.closeClient(
        client,
        'idle_transaction_timeout',
        new PgmoatError('IDLE_TRANSACTION_TIMEOUT', 'terminating connection due to idle_transaction_timeout', {
          }),
      );
    }
  }

  private sweepIdleClients(now: number, timeout: number): void {
    // Idle: no server, or (session mode) a server with nothing pending outside a transaction.
    const m = this.members;
    const candidates = [...m.idleClients, ...[...m.activeClients].filter((c) => c.server?.clean === true && !c.settingUp && c.scanner.atBoundary)];
    for (const client of candidates) {
      if (now - Math.max(client.lastActivity, client.server?.lastResponseAt ?? 0) < timeout) continue;
      this.pool.closeClient(
        client,
        'client_idle_timeout',
        new PgmoatError('CLIENT_IDLE_TIMEOUT', 'terminating connection due to client_idle_timeout'),
      );
    }
  }

  /** server_lifetime, server_idle_timeout (down to min_pool_size), and retirement (RECONNECT). */
  private sweepIdleServers(now: number, s: PoolSettings): void {
    for (const server of [...this.members.idleServers]) {
      const idleFor = now - server.idleSince;
      const age = now - server.createdAt;
      if (s.serverLifetime > 0 && age > s.serverLifetime) this.pool.closeServer(server, 'server_lifetime');
      else if (s.serverIdleTimeout > 0 && idleFor > s.serverIdleTimeout && this.members.openServers + this.opener.connecting > s.minPoolSize) {
        this.pool.closeServer(server, 'server_idle_timeout');
      } else if (server.retire) this.pool.closeServer(server, 'retired');
    }
  }

  /** A pool whose waiting clients get no server for a while says so once, with what its servers are doing. */
  private watchProgress(now: number): void {
    const waiting = this.members.waitingClients.length;
    const handoff = this.handoff;
    if (waiting === 0) {
      if (this.stallReported) this.log.info({ event: 'pool_progress', pool: this.pool.key }, 'pool has no client waiting any more');
      this.stallReported = false;
      handoff.lastProgressAt = now;
      return;
    }
    const wait = this.pool.settings.queryWaitTimeout;
    const stallMs = wait > 0 ? Math.min(STALL_REPORT_MS, wait / 2) : STALL_REPORT_MS;
    if (this.stallReported) {
      if (handoff.lastProgressAt > now - stallMs) {
        this.stallReported = false;
        this.log.info({ event: 'pool_progress', pool: this.pool.key }, 'pool hands out server connections again');
      }
      return;
    }
    if (now - handoff.lastProgressAt < stallMs) return;
    this.stallReported = true;
    this.log.warn(
      { event: 'pool_stalled', pool: this.pool.key, waiting_clients: waiting, stalled_ms: now - handoff.lastProgressAt, detail: this.waitDetail(now) },
      'no server connection was handed out while clients waited',
    );
  }

  /** What the pool's servers are doing, for a client that waited in vain and for the log. */
  private waitDetail(now: number): string {
    const m = this.members;
    const backoff = this.opener.backoff;
    return describeServers({
      poolKey: this.pool.key,
      poolSize: this.handoff.capacity(),
      active: m.activeServers.size,
      internal: m.internalServers.size,
      connecting: this.opener.connecting,
      idle: m.idleServers.length,
      paused: this.handoff.paused,
      waiting: m.waitingClients.length,
      lastConnectError: backoff.lastError === undefined ? undefined : errorMessage(backoff.lastError),
      lastConnectErrorAgoMs: backoff.lastError === undefined ? 0 : now - backoff.lastErrorAt,
      limitReached: !this.pool.mayOpen(),
    });
  }
}
