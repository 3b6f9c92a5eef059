/**
 * Opening a pool's server connections: the attempts in flight, the backoff after failures (a
 * restart, a crash recovery, an upstream that is down), the logins that wait for the pool's
 * first server parameters, and the log lines that tell an operator what is failing. What a
 * failure means for the clients that wait is the pool's to decide (PoolForOpener).
 */
import type { Logger } from 'pino';
import { connectUpstream, UpstreamError, type UpstreamSession } from '../upstream/connect.js';
import { isTransientUpstreamFailure } from '../upstream/failure.js';
import { PgmoatError, errorMessage } from '../util/errors.js';
import type { UpstreamTarget } from '../upstream/target.js';
import type { PoolSettings } from '../config/effective.js';
import { ConnectBackoff } from './connect-backoff.js';

/** While a pool's connects keep failing, one log line at most this often. */
const CONNECT_FAILURE_LOG_MS = 10_000;

/** Opens and logs in one server connection (connectUpstream; tests give a fake). */
export type ConnectUpstream = (target: UpstreamTarget) => Promise<UpstreamSession>;

/** A login waiting for the pool's first server parameters. */
interface ParamsWaiter {
  resolve: (p: Map<string, string>) => void;
  reject: (e: Error) => void;
  /** Given up at this time (the login's own deadline); 0 = never. */
  deadline: number;
  /** The client went away meanwhile (its waiter is dropped even without a deadline). */
  abandoned: () => boolean;
}

/** What the opener needs of its pool. */
export interface PoolForOpener {
  readonly key: string;
  readonly target: UpstreamTarget;
  readonly settings: PoolSettings;
  readonly stats: { serverConnects: number; serverConnectFailures: number };
  readonly waitingClientCount: number;
  /** Server connections open or being opened. */
  readonly serverCount: number;
  /** max_db_connections / max_user_connections leave room for one more. */
  mayOpen(): boolean;
  serverOpened(upstream: UpstreamSession): void;
  /** A failure that will not pass by itself: the pool tells the clients waiting for a server. */
  openFailedForGood(err: Error): void;
  /** The backoff is over: the pool looks again at who waits. */
  retryDue(): void;
}

export class ServerOpener {
  /** Attempts in flight. */
  connecting = 0;
  readonly backoff = new ConnectBackoff();
  /** ParameterStatus of the first server login, told to clients at their login. */
  serverParams: Map<string, string> | undefined;
  private paramsWaiters: ParamsWaiter[] = [];
  private lastFailureLogAt = 0;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly pool: PoolForOpener,
    private readonly log: Logger,
    private readonly connect: ConnectUpstream = connectUpstream,
  ) {}

  get waitingLogins(): number {
    return this.paramsWaiters.length;
  }

  /** One more attempt, unless the backoff says not yet. */
  open(): void {
    if (this.backoff.blocked(Date.now())) return;
    const pool = this.pool;
    this.connecting++;
    pool.stats.serverConnects++;
    const startedAt = Date.now();
    this.connect(pool.target).then(
      (upstream) => {
        this.connecting--;
        if (this.backoff.failures > 0) {
          this.log.info({ event: 'server_connect_recovered', pool: pool.key, failed_attempts: this.backoff.failures }, 'server connections work again');
        }
        this.backoff.succeeded();
        pool.serverOpened(upstream);
        if (!this.serverParams) {
          this.serverParams = new Map(upstream.params);
          for (const w of this.paramsWaiters.splice(0)) w.resolve(this.serverParams);
        }
        pool.retryDue();
      },
      (err: Error) => {
        this.connecting--;
        pool.stats.serverConnectFailures++;
        const now = Date.now();
        const transient = isTransientUpstreamFailure(err);
        const retryInMs = this.backoff.failed(err, now, pool.settings.serverLoginRetry, startedAt);
        this.logFailure(err, transient, retryInMs, now);
        if (transient) {
          this.scheduleRetry(retryInMs);
          return;
        }
        if (pool.serverCount > 0) return; // a server is still on its way to whoever waits
        for (const w of this.paramsWaiters.splice(0)) w.reject(err);
        pool.openFailedForGood(err);
      },
    );
  }

  /**
   * The server parameters clients are told at login. The first login of a pool needs one
   * server connection to learn them; while the upstream is briefly away (a restart) the login
   * waits for it, up to `deadline` (its client_login_timeout; 0 = no limit of its own).
   */
  welcomeParams(deadline: number, abandoned: () => boolean): Promise<Map<string, string>> {
    if (this.serverParams) return Promise.resolve(this.serverParams);
    return new Promise((resolve, reject) => {
      this.paramsWaiters.push({ resolve, reject, deadline, abandoned });
      // At max_db_connections / max_user_connections the janitor opens it once there is room.
      if (this.pool.serverCount === 0 && this.pool.mayOpen()) this.open();
    });
  }

  /** The janitor's tick: logins past their deadline stop waiting; waiting logins get an attempt. */
  sweep(now: number): void {
    if (this.paramsWaiters.length === 0) return;
    this.paramsWaiters = this.paramsWaiters.filter((w) => {
      if ((w.deadline === 0 || now < w.deadline) && !w.abandoned()) return true;
      w.reject(this.loginGivenUp());
      return false;
    });
    // Logins that arrived while connects were backing off: once the backoff is over, one attempt
    // answers all of them (with the parameters or the error).
    if (this.paramsWaiters.length > 0 && this.pool.serverCount === 0 && this.pool.mayOpen()) this.open();
  }

  stop(): void {
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
  }

  /** A login that waited client_login_timeout gets the last failure as its FATAL, with how long pgmoat kept trying. */
  private loginGivenUp(): PgmoatError {
    const last = this.backoff.lastError;
    const n = this.backoff.failures;
    const tried = `pgmoat tried ${n} time${n === 1 ? '' : 's'} to open a server connection for pool ${this.pool.key} while this login waited (client_login_timeout); the upstream may be down or restarting.`;
    if (last instanceof UpstreamError && last.fields) {
      const detail = last.fields.detail ? `${last.fields.detail} ${tried}` : tried;
      return new PgmoatError('UPSTREAM_LOGIN_REFUSED', last.fields.message, { sqlstate: last.fields.code, detail, hint: last.fields.hint });
    }
    if (last instanceof PgmoatError && last.sqlstate !== undefined) return last.withDetail(tried);
    return new PgmoatError('UPSTREAM_UNAVAILABLE', `no server connection for pool ${this.pool.key} could be opened within client_login_timeout`, {
      detail: last ? `The last attempt failed: ${errorMessage(last)}` : 'The first attempt had not finished (see server_connect_timeout).',
    });
  }

  /** The first failure in a row is logged, then one line at most every CONNECT_FAILURE_LOG_MS. */
  private logFailure(err: Error, transient: boolean, retryInMs: number, now: number): void {
    if (this.backoff.failures > 1 && now - this.lastFailureLogAt < CONNECT_FAILURE_LOG_MS) return;
    this.lastFailureLogAt = now;
    this.log.warn(
      {
        event: 'server_connect_failed',
        pool: this.pool.key,
        reason: errorMessage(err),
        ...(err instanceof PgmoatError && err.sqlstate ? { sqlstate: err.sqlstate } : {}),
        transient,
        failed_attempts: this.backoff.failures,
        waiting_clients: this.pool.waitingClientCount + this.paramsWaiters.length,
        retry_in_ms: retryInMs,
      },
      transient ? 'server connection failed; retrying while clients wait' : 'server connection failed',
    );
  }

  /**
   * One timer per pool brings the next attempt after a transient failure (the janitor's tick is
   * too coarse for the first, 100 ms retry). Nothing is scheduled when nobody waits: the next
   * client to ask starts an attempt itself once the backoff is over.
   */
  private scheduleRetry(delayMs: number): void {
    if (this.retryTimer !== undefined) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.paramsWaiters.length > 0 && this.pool.serverCount === 0 && this.pool.mayOpen()) this.open();
      this.pool.retryDue();
    }, delayMs);
    this.retryTimer.unref();
  }
}
