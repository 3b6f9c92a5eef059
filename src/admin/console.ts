/**
 * The admin console: takes over logins to the virtual database `pgmoat` (the gateway's
 * adminConsole hook), keeps the live admin sessions, and runs their commands against the pools.
 */
import { randomInt } from 'node:crypto';
import type { Logger } from 'pino';
import type { LoginRequest } from '../accept/client-accept.js';
import type { Pool } from '../pool/pool.js';
import type { RuntimeConfig } from '../runtime/runtime-config.js';
import { identityName, type PeerIdentity } from '../tls/peer-identity.js';
import * as msg from '../protocol/messages.js';
import { PgmoatError, assertNever } from '../util/errors.js';
import type { AdminConsoleHook } from '../access/hooks.js';
import { checkAdminIdentity, decideAdminLogin } from './admin-login.js';
import { AdminSession, type AdminSessionHost } from './admin-session.js';
import type { AdminCommand } from './command-parse.js';
import { controlPools, waitClose } from './pool-control.js';
import { disableDatabase, resume, setSetting, suspend, type LiveGateway, type PeerCommand } from './live-control.js';
import { showDnsHosts, showLists, showUsers } from './show-lists.js';
import type { CommandResult } from './result-set.js';
import { showClients, showIdentities, showPools, showServers, showStats } from './show-tables.js';
import { showConfig, showDatabases, showHelp, showVersion } from './show-config.js';
import type { WorkerShare } from '../runtime/worker-share.js';
import type { RevocationCheck } from '../revocation/source.js';
import type { CrlStatus } from '../revocation/crl-file-source.js';
import { CertificateCatalog } from './certificate-catalog.js';
import { showCerts, showCrl } from './show-certificates.js';

/** Admin identities are trusted, but their connections still must not grow without bound. */
const MAX_ADMIN_SESSIONS = 64;

export interface ConsoleGateway extends LiveGateway {
  readonly pools: ReadonlyMap<string, Pool>;
  readonly runtime: RuntimeConfig;
  readonly revocations: RevocationCheck;
  /** The CRL in force (SHOW CRL). */
  readonly crlStatus: CrlStatus;
}

export type { PeerCommand };

/** The other workers of `serve --workers N` (src/cluster/admin-fanout.ts). */
export interface AdminPeers {
  /** Runs `cmd` on every other worker; resolves with one line per worker where it failed. */
  run(cmd: PeerCommand): Promise<string[]>;
}

export interface ConsoleOptions {
  version: string;
  log: Logger;
  /** RELOAD: throws a PgmoatError when the new configuration is refused. */
  reload(): Promise<void>;
  /** SHUTDOWN: called once the answer has been written. */
  shutdown(): void;
  /** Cluster workers: the others, which RELOAD and the pool commands reach too. */
  peers?: AdminPeers | undefined;
  /** Cluster workers: which one this is. */
  worker?: WorkerShare | undefined;
  /** The certificates known (SHOW CERTS), shared with the metrics; one of its own when not given. */
  catalog?: CertificateCatalog | undefined;
}

export class AdminConsole implements AdminConsoleHook, AdminSessionHost {
  readonly sessions = new Set<AdminSession>();
  private readonly catalog: CertificateCatalog;

  constructor(
    private readonly gw: ConsoleGateway,
    private readonly opts: ConsoleOptions,
  ) {
    this.catalog = opts.catalog ?? new CertificateCatalog(gw, () => this.identities());
  }

  /** Identities of the live admin sessions (metrics). */
  identities(): PeerIdentity[] {
    return [...this.sessions].map((s) => s.identity);
  }

  login(req: LoginRequest): void {
    const identity = decideAdminLogin(this.gw.runtime, this.gw.revocations, req.certCheck?.ok ? req.certCheck.identity : undefined, req.params.get('user'));
    if (this.sessions.size >= MAX_ADMIN_SESSIONS) {
      throw new PgmoatError('TOO_MANY_ADMIN_SESSIONS', `too many admin console sessions (at most ${MAX_ADMIN_SESSIONS})`);
    }
    if (req.socket.destroyed) return;
    const protocol = req.tls?.getProtocol() ?? undefined;
    const session = new AdminSession(
      req.socket,
      identity,
      identityName(identity),
      req.remoteAddress,
      req.remotePort,
      protocol ? `${protocol}/${req.tls?.getCipher()?.name ?? ''}` : '',
      req.params.get('application_name') ?? '',
      this,
    );
    this.sessions.add(session);
    const params: [string, string][] = [
      ['server_version', `${this.opts.version}/pgmoat`],
      ['server_encoding', 'UTF8'],
      ['client_encoding', 'UTF8'],
      ['DateStyle', 'ISO'],
      ['integer_datetimes', 'on'],
      ['standard_conforming_strings', 'on'],
      ['application_name', req.params.get('application_name') ?? ''],
    ];
    // Cancel keys of the console are not registered: a CancelRequest for them is ignored.
    req.socket.write(msg.loginWelcome(params, randomInt(1, 2 ** 31 - 1), randomInt(-(2 ** 31), 2 ** 31 - 1)));
    this.opts.log.info(
      { event: 'admin_login', remote: req.remoteAddress, cn: identity.cn, environment: identity.environment, serial: identity.serial },
      'admin console session opened',
    );
    session.start(req.leftover);
  }

  recheck(session: AdminSession): void {
    try {
      checkAdminIdentity(this.gw.runtime, this.gw.revocations, session.identity);
    } catch (err) {
      this.opts.log.warn({ event: 'admin_session_ended', cn: session.identity.cn, serial: session.identity.serial, reason: (err as Error).message }, 'admin session ended: identity no longer allowed');
      throw err;
    }
  }

  closed(session: AdminSession): void {
    this.sessions.delete(session);
  }

  async execute(session: AdminSession, cmd: AdminCommand): Promise<CommandResult> {
    const pools = (): Iterable<Pool> => this.gw.pools.values();
    switch (cmd.kind) {
      case 'show':
        switch (cmd.topic) {
          case 'POOLS':
            return showPools(pools());
          case 'CLIENTS':
            return showClients(pools(), this.sessions);
          case 'SERVERS':
            return showServers(pools());
          case 'STATS':
            return showStats(pools());
          case 'DATABASES':
            return showDatabases(this.gw.runtime.config, pools(), this.gw.gate.disabled);
          case 'CONFIG':
            return showConfig(this.gw.runtime.config);
          case 'VERSION':
            return showVersion(this.opts.worker ? `${this.opts.version} (worker ${this.opts.worker.index + 1} of ${this.opts.worker.count})` : this.opts.version);
          case 'IDENTITIES':
            return showIdentities(pools(), this.sessions);
          case 'HELP':
            return showHelp();
          case 'CERTS':
            await this.catalog.refreshInventory();
            return showCerts(this.catalog.list());
          case 'CRL':
            return showCrl(this.gw.runtime.revocation, this.gw.crlStatus);
          case 'USERS':
            return showUsers(this.gw.runtime.config, pools());
          case 'LISTS':
            return showLists(this.gw.runtime.config, pools(), {
              adminSessions: this.sessions.size,
              heldLogins: this.gw.gate.held,
              disabledDatabases: this.gw.gate.disabled.size,
            });
          case 'DNS_HOSTS':
            return showDnsHosts(this.gw.runtime.config, pools());
          default:
            return assertNever(cmd.topic, 'SHOW topic');
        }
      case 'reload':
        this.audit(session, 'RELOAD');
        await this.opts.reload();
        await this.onPeers({ kind: 'reload' }, 'PEER_RELOAD_FAILED');
        return { tag: 'RELOAD' };
      case 'shutdown':
        this.audit(session, 'SHUTDOWN');
        // After this answer and its ReadyForQuery have been written.
        setImmediate(() => this.opts.shutdown());
        return { tag: 'SHUTDOWN' };
      case 'pool':
        this.audit(session, cmd.verb, cmd.database);
        if (cmd.verb === 'RESUME') await resume(this.gw, cmd.database);
        else await controlPools(cmd.verb, cmd.database, pools(), this.gw.runtime.config);
        await this.onPeers({ kind: 'pool', verb: cmd.verb, database: cmd.database }, 'PEER_COMMAND_FAILED');
        return { tag: cmd.verb };
      case 'database':
        this.audit(session, cmd.verb, cmd.database);
        disableDatabase(this.gw, cmd.verb, cmd.database);
        await this.onPeers(cmd, 'PEER_COMMAND_FAILED');
        return { tag: cmd.verb };
      case 'set':
        this.audit(session, 'SET', undefined, { key: cmd.key, value: cmd.value });
        // Checked and applied here first: a value refused here never reaches the other workers.
        setSetting(this.gw, cmd.key, cmd.value);
        await this.onPeers(cmd, 'PEER_COMMAND_FAILED');
        return { tag: 'SET' };
      case 'suspend':
        this.audit(session, 'SUSPEND');
        suspend(this.gw);
        await this.onPeers(cmd, 'PEER_COMMAND_FAILED');
        return { tag: 'SUSPEND' };
      case 'wait_close': {
        this.audit(session, 'WAIT_CLOSE', cmd.database);
        const config = this.gw.runtime.config;
        // The workers wait side by side, each up to its own deadline.
        const here = waitClose(cmd.database, pools, config, config.shutdown_timeout, () => session.closed);
        const there = this.onPeers(cmd, 'PEER_COMMAND_FAILED');
        const [a, b] = await Promise.allSettled([here, there]);
        if (a.status === 'rejected') throw a.reason;
        if (b.status === 'rejected') throw b.reason;
        return { tag: 'WAIT_CLOSE' };
      }
      default:
        return assertNever(cmd, 'admin command');
    }
  }

  /** The same command on the other workers, once it has worked on this one. */
  private async onPeers(cmd: PeerCommand, code: 'PEER_RELOAD_FAILED' | 'PEER_COMMAND_FAILED'): Promise<void> {
    if (!this.opts.peers) return;
    const failed = await this.opts.peers.run(cmd);
    if (failed.length === 0) return;
    throw new PgmoatError(code, `applied on this worker, but not on every other: ${failed.join('; ')}`, { severity: 'ERROR' });
  }

  private audit(session: AdminSession, command: string, database?: string, extra: Record<string, string> = {}): void {
    this.opts.log.info(
      { event: 'admin_command', command, database, ...extra, cn: session.identity.cn, serial: session.identity.serial, remote: session.remoteAddress },
      `admin command ${command}`,
    );
  }

  /** Ends every admin session (shutdown). */
  closeAll(): void {
    const err = new PgmoatError('SHUTDOWN', 'terminating connection due to administrator command');
    for (const s of [...this.sessions]) s.close(err);
  }
}
