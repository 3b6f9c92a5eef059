/**
 * Handing servers to clients and taking them back: one re-entry-guarded pump() gives idle
 * servers to waiting clients (checking the ones that may be stale, opening new ones up to
 * pool_size), link() applies the client's session settings, releaseServer() resets, retires or
 * returns a server a client is done with. PAUSE, RESUME and RECONNECT act here too. This runs
 * per transaction: no closure or allocation on the way, except for pgmoat's own queries.
 */
import type { PoolSettings } from '../config/effective.js';
import type { ErrorFields } from '../protocol/error-response.js';
import type { ClientSession } from '../relay/client-session.js';
import { settingsQuery } from '../relay/param-sync.js';
import type { PoolLogLevel } from '../relay/pool-port.js';
import type { PgmoatError } from '../util/errors.js';
import type { PoolMembers, Server } from './pool-members.js';
import type { ServerOpener } from './server-opener.js';

/** What the handoff needs of its pool. */
export interface HandoffPool {
  /** Read at each use: a reload replaces it. */
  readonly settings: PoolSettings;
  readonly stats: { waitMsTotal: number };
  /** max_db_connections / max_user_connections leave room for one more. */
  mayOpen(): boolean;
  closeClient(client: ClientSession, reason: string, error?: PgmoatError | ErrorFields): void;
  closeServer(server: Server, reason: string, clientError?: PgmoatError, level?: PoolLogLevel): void;
}

export class ServerHandoff {
  paused = false;
  /** When a server was last handed to a client (or, set by the janitor, when nobody waited). */
  lastProgressAt = Date.now();
  /** When the upstream last closed a connection by itself: servers idle since before then are checked before reuse. */
  suspectSince = 0;
  private pauseWaiters: (() => void)[] = [];
  private pumping = false;
  private pumpAgain = false;

  constructor(
    private readonly pool: HandoffPool,
    private readonly members: PoolMembers,
    private readonly opener: ServerOpener,
  ) {}

  /** Hands idle servers to waiting clients, opening connections up to pool_size. */
  pump(): void {
    if (this.pumping) {
      this.pumpAgain = true;
      return;
    }
    const m = this.members;
    this.pumping = true;
    try {
      do {
        this.pumpAgain = false;
        while (!this.paused && m.waitingClients.length > 0 && m.idleServers.length > 0) {
          const server = m.idleServers[m.idleServers.length - 1]!;
          if (this.needsCheck(server)) {
            this.checkServer(server);
            continue;
          }
          this.link(m.waitingClients[0]!, server);
        }
        // A server being checked or reset is busy: it may never come back (a check that hangs),
        // so only connections being opened count as on their way.
        const wanted = this.paused ? 0 : m.waitingClients.length - this.opener.connecting;
        const cap = this.capacity();
        for (let i = 0; i < wanted && m.openServers + this.opener.connecting < cap; i++) {
          if (this.opener.backoff.blocked(Date.now()) || !this.pool.mayOpen()) break;
          this.opener.open();
        }
      } while (this.pumpAgain);
    } finally {
      this.pumping = false;
    }
    if (this.paused && this.pauseWaiters.length > 0 && m.activeServers.size === 0 && m.internalServers.size === 0) {
      for (const resolve of this.pauseWaiters.splice(0)) resolve();
    }
  }

  /** pool_size, plus reserve_pool_size once the first waiting client has waited reserve_pool_timeout. */
  capacity(): number {
    const s = this.pool.settings;
    const first = this.members.waitingClients[0];
    if (s.reservePoolSize > 0 && first !== undefined && Date.now() - first.waitingSince >= s.reservePoolTimeout) {
      return s.poolSize + s.reservePoolSize;
    }
    return s.poolSize;
  }

  private needsCheck(server: Server): boolean {
    const s = this.pool.settings;
    if (s.serverCheckQuery === '') return false;
    if (server.idleSince <= this.suspectSince) return true;
    return server.timesLinked > 0 && Date.now() - server.idleSince >= s.serverCheckDelay;
  }

  /** server_check_query on a connection idle for longer than server_check_delay, before reuse. */
  private checkServer(server: Server): void {
    this.members.setServerPhase(server, 'internal');
    server.runInternal(this.pool.settings.serverCheckQuery, 'check', (error) => {
      if (server.phase !== 'internal') return;
      if (error || !server.clean) {
        this.pool.closeServer(server, `server_check_query failed: ${error?.message ?? 'not idle'}`, undefined, 'warn');
        return;
      }
      // Checked just now: straight to the next waiting client, not through another check.
      const client = this.paused ? undefined : this.members.waitingClients[0];
      if (client) this.link(client, server);
      else this.members.setServerPhase(server, 'idle');
      this.pump();
    });
  }

  private link(client: ClientSession, server: Server): void {
    const m = this.members;
    const now = Date.now();
    this.lastProgressAt = now;
    // What it sent while waiting reaches a server now: query_timeout and the query timings count
    // from here, not from when it arrived (the wait is counted apart, in waitMsTotal).
    client.lastActivity = now;
    const waited = now - client.waitingSince;
    this.pool.stats.waitMsTotal += waited;
    client.server = server;
    server.client = client;
    server.timesLinked++;
    m.setClientPhase(client, 'active');
    const sql = server.appliedFor === client ? undefined : settingsQuery(client.info.settings, server.params);
    server.appliedFor = client;
    if (sql === undefined) {
      m.setServerPhase(server, 'active');
      client.onLinked();
      return;
    }
    m.setServerPhase(server, 'internal');
    client.settingUp = true;
    server.runInternal(sql, 'settings', (error) => {
      if (server.phase !== 'internal' || client.phase !== 'active') return;
      if (error) {
        server.appliedFor = null;
        this.pool.closeClient(client, 'startup settings refused', { ...error, severity: 'FATAL' });
        return;
      }
      m.setServerPhase(server, 'active');
      client.onLinked();
    });
  }

  /** After a read that ended a transaction: unlinks the client unless something new came meanwhile. */
  releaseAfterReady(server: Server): void {
    const client = server.client;
    if (client === null || server.phase !== 'active' || !server.clean || !client.scanner.atBoundary) return;
    server.client = null;
    client.server = null;
    this.members.setClientPhase(client, 'idle');
    this.releaseServer(server, false);
    client.onUnlinked();
  }

  /**
   * Puts a server back after a client is done with it: reset when the session ended (or always
   * when configured), closed when it is not clean or due for retirement.
   */
  releaseServer(server: Server, sessionEnded: boolean): void {
    if (server.phase === 'closed') return;
    const s = this.pool.settings;
    const expired = s.serverLifetime > 0 && Date.now() - server.createdAt > s.serverLifetime;
    if (!server.clean) {
      this.pool.closeServer(server, 'client left while the server was busy', undefined, 'info');
      return;
    }
    if (!server.scanner.atBoundary) {
      this.pool.closeServer(server, 'server stopped in the middle of a message', undefined, 'warn');
      return;
    }
    if (server.retire || expired) {
      this.pool.closeServer(server, 'retired');
      return;
    }
    const reset = s.serverResetQuery && (sessionEnded ? s.poolMode === 'session' || s.serverResetQueryAlways : s.serverResetQueryAlways);
    if (reset) {
      this.members.setServerPhase(server, 'internal');
      server.runInternal(s.serverResetQuery, 'reset', (error) => {
        if (server.phase !== 'internal') return;
        if (error || !server.clean) {
          this.pool.closeServer(server, `reset query failed: ${error?.message ?? 'not idle'}`, undefined, 'warn');
          return;
        }
        server.statements.clear(); // DISCARD ALL deallocated them
        this.members.setServerPhase(server, 'idle');
        this.pump();
      });
      return;
    }
    this.members.setServerPhase(server, 'idle');
    this.pump();
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

  /** Ends the pause; a PAUSE still waiting for servers to be released is answered too (it is over). */
  resume(): void {
    this.paused = false;
    for (const resolve of this.pauseWaiters.splice(0)) resolve();
    this.pump();
  }

  /** Replaces every server connection as it becomes idle (upstream maintenance, failover). */
  reconnect(): void {
    const m = this.members;
    for (const server of [...m.idleServers]) this.pool.closeServer(server, 'RECONNECT');
    for (const server of [...m.activeServers, ...m.internalServers]) server.retire = true;
    this.pump();
  }
}
