/**
 * The primary of `pgmoat serve --workers N`: forks the workers, serves no PostgreSQL client
 * itself, and keeps the set whole. A worker that dies unexpectedly is replaced after a backoff
 * that doubles with each crash in a row (up to 30 s), so a crash loop does not spin. SIGHUP is
 * passed to every worker (each reloads); SIGTERM and SIGINT stop every worker gracefully, then
 * the primary; a worker that exits 0 on its own did so for the admin console's SHUTDOWN, which
 * stops the whole gateway too. A worker that fails before it ever listened stops everything
 * (a port in use or an unreadable file would fail every replacement alike).
 */
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from 'pino';
import { loadConfig } from '../config/load.js';
import { buildRuntimeConfig } from '../runtime/runtime-config.js';
import { createLogger } from '../util/logger.js';
import { DRAINING, type Readiness } from '../admin/readiness.js';
import { errorMessage } from '../util/errors.js';
import { ownerOf } from '../gateway/cancel-route.js';
import { isWorkerMessage, type PeerCommand, type PrimaryToWorker, type WorkerRequest, type WorkerToPrimary } from './messages.js';
import { PrimaryHttp } from './primary-http.js';
import { clusterDashboard, type DashboardWorker, type WorkerAnswer } from './dashboard-source.js';
import { reusePortFor, shortfalls } from '../runtime/worker-share.js';
import { assertPortFree } from './port-probe.js';
import { TICKET_SECRET_ENV, WORKER_COUNT_ENV, WORKER_INDEX_ENV } from './worker.js';
import { newTicketSecret } from '../tls/client-tls.js';
import { FirstRefusals } from './first-refusals.js';
import { RenewalRuntime } from '../renewal/renewal-runtime.js';
import { renewalCounter, serverRenewalCounter } from '../renewal/start.js';

const MAX_BACKOFF_MS = 30_000;
const FIRST_BACKOFF_MS = 250;
/** A worker that ran this long before dying starts the backoff over. */
const STABLE_MS = 60_000;
const READINESS_TIMEOUT_MS = 5_000;
/** Past shutdown_timeout, how long the workers get to close before SIGKILL. */
const KILL_GRACE_MS = 5_000;

/**
 * Listener sharing. SCHED_RR (Node's default on Linux): the primary accepts each connection and
 * passes the handle to the next worker in turn. SCHED_NONE: every worker accepts on the shared
 * socket and the kernel picks who wakes up. Measured with the benchmark (2 workers, pgmoat 1
 * worker in the same run as reference, 5 s runs, on the 2-core machine shared with other work):
 * select-only 50 clients 13,994 TPS (rr) vs 13,403 (none); connection per transaction, 2w/1w
 * ratio 0.99 and 0.78 (rr) vs 1.31 and 1.08 (none); 500 clients 0.68 and 0.86 (rr) vs 1.17 and
 * 0.48 (none). The noise is as large as the differences. Only the connect-per-transaction gain of
 * SCHED_NONE repeated, and it is small. Round robin stays because each worker has only its share
 * of every pool and of max_client_conn: an uneven spread (what the kernel gives a busy accept
 * queue) would queue clients on one worker while the other's share of the pool sits idle.
 * NODE_CLUSTER_SCHED_POLICY=rr|none, read by node:cluster itself, overrides it.
 *
 * listen.reuse_port takes the primary off the path: each worker binds the port itself with
 * SO_REUSEPORT and the kernel spreads connections by a hash of the client's address and port.
 * Measured (bench/experiments/workers-probe.ts, -C, 2 workers): the hand-over costs the primary
 * about 10 syscalls and 2 wake-ups per connection and the workers about 8 more syscalls (the fd
 * arrives over IPC and is acknowledged twice); the primary alone spent 150-340 µs of CPU per
 * connection, 8-16 % of one worker's. With reuse_port the primary does nothing per connection.
 * The spread is even only on average, which is why it is not the default.
 */
const SCHEDULING_POLICY = cluster.SCHED_RR;

interface Slot {
  readonly index: number;
  worker: Worker | undefined;
  listening: boolean;
  everListened: boolean;
  startedAt: number;
  crashes: number;
  restartTimer: NodeJS.Timeout | undefined;
}

interface Pending {
  workerId: number;
  resolve(r: Extract<WorkerToPrimary, { pgmoat: 'reply' }>): void;
}

class Primary {
  private readonly slots: Slot[];
  private readonly byWorkerId = new Map<number, Slot>();
  private readonly pending = new Map<number, Pending>();
  private nextRequest = 1;
  /**
   * One secret for every worker's TLS ticket keys, so that a ticket resumes on whichever worker
   * the next connection lands (measured before: 50 % resumed with 2 workers, each its own keys).
   * It reaches the workers in their environment at fork, readable only by this user and root,
   * who can read the gateway's private key anyway.
   */
  private readonly ticketSecret = newTicketSecret();
  /** Revoked serials whose first refused connection a worker has observed (one per serial across workers). */
  private readonly firstRefusals = new FirstRefusals();
  private stopping = false;
  private exitCode = 0;
  private readonly http: PrimaryHttp;
  /** renewal: runs here, not in the workers: one listener, one rate limit, one self-renewal. */
  readonly renewal: RenewalRuntime;
  private finished!: () => void;
  readonly done: Promise<number>;

  constructor(
    private readonly configPath: string,
    private readonly count: number,
    private readonly log: Logger,
    private shutdownTimeout: number,
    /** peer_id as the gateway started (the workers keep it too: cancel-route.ts). */
    private readonly peerId: number | undefined,
  ) {
    this.slots = Array.from({ length: count }, (_, index) => ({ index, worker: undefined, listening: false, everListened: false, startedAt: 0, crashes: 0, restartTimer: undefined }));
    const dashboard = clusterDashboard({ workers: () => this.dashboardWorkers(), own: () => [this.http.own], reloadPrimary: () => this.reloadHttp('RELOAD') });
    this.http = new PrimaryHttp({ readiness: () => this.readiness(), running: () => this.slots.filter((s) => s.listening).length, dashboard }, log, count);
    this.renewal = new RenewalRuntime(log, { onRequest: renewalCounter(this.http.own), onServerRenewal: serverRenewalCounter(this.http.own) });
    this.done = new Promise<void>((resolve) => (this.finished = resolve)).then(() => this.exitCode);
  }

  start(): void {
    if (process.env.NODE_CLUSTER_SCHED_POLICY === undefined) cluster.schedulingPolicy = SCHEDULING_POLICY;
    cluster.on('message', (worker, m: unknown) => this.onMessage(worker, m));
    cluster.on('exit', (worker, code, signal) => this.onExit(worker, code, signal));
    for (const slot of this.slots) this.fork(slot);
    process.on('SIGHUP', () => this.reload());
    // The first signal drains every worker; a second one ends the drain at once.
    process.on('SIGTERM', () => this.onSignal('SIGTERM'));
    process.on('SIGINT', () => this.onSignal('SIGINT'));
  }

  async followHttp(next: Parameters<PrimaryHttp['follow']>[0]): Promise<void> {
    await this.http.follow(next);
  }

  private fork(slot: Slot): void {
    slot.restartTimer = undefined;
    const worker = cluster.fork({
      [WORKER_INDEX_ENV]: String(slot.index),
      [WORKER_COUNT_ENV]: String(this.count),
      [TICKET_SECRET_ENV]: this.ticketSecret.toString('hex'),
    });
    slot.worker = worker;
    slot.listening = false;
    slot.startedAt = Date.now();
    this.byWorkerId.set(worker.id, slot);
  }

  private send(slot: Slot | undefined, m: PrimaryToWorker): boolean {
    const w = slot?.worker;
    if (!w || !w.isConnected()) return false;
    w.send(m);
    return true;
  }

  private onMessage(worker: Worker, m: unknown): void {
    if (!isWorkerMessage(m)) return;
    const slot = this.byWorkerId.get(worker.id);
    if (!slot) return;
    switch (m.pgmoat) {
      case 'listening':
        slot.listening = true;
        slot.everListened = true;
        if (this.slots.every((s) => s.listening)) this.log.info({ event: 'cluster_listening', workers: this.count }, `all ${this.count} workers listening`);
        return;
      case 'cancel':
        // Only to the owner: it alone checks the secret (cancel-route.ts).
        this.send(this.slots[ownerOf(m.pid, this.count, this.peerId)], m);
        return;
      case 'shutdown':
        void this.stop('SHUTDOWN');
        return;
      case 'first-refusal':
        if (this.firstRefusals.claim(m.serial)) this.send(slot, { pgmoat: 'first-refusal-won', delayMs: m.delayMs });
        return;
      case 'fanout':
        void this.fanout(slot, m.cmd).then((errors) => this.send(slot, { pgmoat: 'fanout-done', id: m.id, errors }));
        return;
      case 'reply': {
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        p?.resolve(m);
        return;
      }
    }
  }

  private request(slot: Slot, req: WorkerRequest, timeoutMs?: number): Promise<Extract<WorkerToPrimary, { pgmoat: 'reply' }>> {
    const id = this.nextRequest++;
    return new Promise((resolve) => {
      const workerId = slot.worker?.id ?? -1;
      let timer: NodeJS.Timeout | undefined;
      this.pending.set(id, {
        workerId,
        resolve: (r) => {
          if (timer) clearTimeout(timer);
          resolve(r);
        },
      });
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          this.pending.delete(id);
          resolve({ pgmoat: 'reply', id, error: `no answer within ${timeoutMs} ms` });
        }, timeoutMs);
      }
      if (!this.send(slot, { pgmoat: 'request', id, req })) {
        this.pending.get(id)?.resolve({ pgmoat: 'reply', id, error: 'not running' });
        this.pending.delete(id);
      }
    });
  }

  /** An admin command from one worker's console, run on every other worker. */
  private async fanout(from: Slot, cmd: PeerCommand): Promise<string[]> {
    const errors: string[] = [];
    const work: Promise<void>[] = this.slots
      .filter((s) => s !== from)
      .map(async (s) => {
        if (!s.listening) return; // starting or restarting: it reads the current config when it starts
        const r = await this.request(s, cmd);
        if (r.error !== undefined) errors.push(`worker ${s.index + 1}: ${r.error}`);
      });
    if (cmd.kind === 'reload') work.push(this.reloadHttp('RELOAD').catch((err: unknown) => void errors.push(errorMessage(err))));
    await Promise.all(work);
    return errors;
  }

  /** Each worker as the dashboard asks it, with a deadline per question. */
  private dashboardWorkers(): DashboardWorker[] {
    return this.slots.map((s) => ({
      name: `worker ${s.index + 1}`,
      running: s.listening,
      pid: s.worker?.process.pid,
      ask: async (call, timeoutMs): Promise<WorkerAnswer> => {
        const r = await this.request(s, { kind: 'dashboard', call }, timeoutMs);
        if (r.error !== undefined) return { ok: false, error: r.error, code: r.code };
        if (!r.dashboard) return { ok: false, error: 'answered without a dashboard reply' };
        return { ok: true, value: r.dashboard.value };
      },
    }));
  }

  private async readiness(): Promise<Readiness> {
    if (this.stopping) return { ready: false, problems: [DRAINING] };
    const problems: string[] = [];
    await Promise.all(
      this.slots.map(async (s) => {
        if (!s.listening) return void problems.push(`worker ${s.index + 1}: not running (starting or restarting)`);
        const r = await this.request(s, { kind: 'readiness' }, READINESS_TIMEOUT_MS);
        if (r.error !== undefined) problems.push(`worker ${s.index + 1}: ${r.error}`);
        for (const p of r.readiness?.problems ?? []) problems.push(`worker ${s.index + 1}: ${p}`);
      }),
    );
    return { ready: problems.length === 0, problems: problems.sort() };
  }

  private onExit(worker: Worker, code: number | null, signal: string | null): void {
    const slot = this.byWorkerId.get(worker.id);
    this.byWorkerId.delete(worker.id);
    for (const [id, p] of this.pending) {
      if (p.workerId !== worker.id) continue;
      this.pending.delete(id);
      p.resolve({ pgmoat: 'reply', id, error: 'exited' });
    }
    if (!slot || slot.worker !== worker) return;
    slot.worker = undefined;
    slot.listening = false;
    if (this.stopping) {
      if (this.slots.every((s) => s.worker === undefined)) void this.finish();
      return;
    }
    const fields = { worker: slot.index + 1, pid: worker.process.pid, code, signal };
    if (code === 0 && signal === null) {
      // Only SHUTDOWN makes a worker exit 0 by itself (its message may not have arrived yet).
      this.log.info({ event: 'worker_exited', ...fields }, `worker ${slot.index + 1} stopped: stopping the gateway`);
      void this.stop('SHUTDOWN');
      return;
    }
    if (!slot.everListened) {
      this.log.error({ event: 'worker_failed', ...fields }, `worker ${slot.index + 1} failed to start: stopping the gateway`);
      this.exitCode = 1;
      void this.stop('worker failed to start');
      return;
    }
    if (Date.now() - slot.startedAt > STABLE_MS) slot.crashes = 0;
    const delay = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** slot.crashes);
    slot.crashes++;
    this.http.restarts.inc();
    this.log.error({ event: 'worker_exited', ...fields, restart_in_ms: delay }, `worker ${slot.index + 1} died; replacing it in ${delay} ms`);
    slot.restartTimer = setTimeout(() => this.fork(slot), delay);
  }

  private reload(): void {
    this.log.info({ event: 'reload', trigger: 'SIGHUP', workers: this.count }, 'passing SIGHUP to every worker');
    // A worker still starting has no SIGHUP handler yet (the signal would kill it); it reads the config as it starts.
    for (const s of this.slots) if (s.listening) s.worker?.process.kill('SIGHUP');
    this.reloadHttp('SIGHUP').catch(() => undefined);
  }

  /** The primary's own part of a reload: admin.http, shutdown_timeout and renewal:. */
  private async reloadHttp(trigger: string): Promise<void> {
    let config;
    try {
      config = (await loadConfig(this.configPath)).config;
    } catch (err) {
      // Each worker logs the refusal with its reason.
      this.log.debug({ event: 'reload', outcome: 'refused', trigger, reason: errorMessage(err) }, 'configuration refused; the admin HTTP listener stays');
      return;
    }
    this.shutdownTimeout = config.shutdown_timeout;
    // Both follow, even when the other cannot; the first failure is the answer.
    const [http, renewal] = await Promise.allSettled([this.http.follow(config.admin.http), this.renewal.apply(config, trigger)]);
    if (http.status === 'rejected') throw new Error(`admin HTTP listener: ${errorMessage(http.reason)}`);
    if (renewal.status === 'rejected') throw renewal.reason;
  }

  private signals = 0;

  private onSignal(signal: string): void {
    if (++this.signals === 1 || !this.stopping) return void this.stop(signal);
    this.log.warn({ event: 'shutdown_forced', signal, workers: this.count }, 'stopping every worker at once');
    for (const s of this.slots) this.send(s, { pgmoat: 'stop-now' });
  }

  private async stop(trigger: string): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.log.info({ event: 'shutdown', signal: trigger, workers: this.count }, 'draining every worker');
    for (const s of this.slots) {
      if (s.restartTimer) clearTimeout(s.restartTimer);
      s.restartTimer = undefined;
      s.worker?.process.kill('SIGTERM');
    }
    if (this.slots.every((s) => s.worker === undefined)) return this.finish();
    setTimeout(() => {
      for (const s of this.slots) {
        if (!s.worker) continue;
        this.log.warn({ event: 'worker_killed', worker: s.index + 1, pid: s.worker.process.pid }, 'worker did not stop in time: killing it');
        s.worker.process.kill('SIGKILL');
      }
    }, this.shutdownTimeout + KILL_GRACE_MS).unref();
  }

  private finishing = false;

  private async finish(): Promise<void> {
    if (this.finishing) return;
    this.finishing = true;
    await this.renewal.close();
    await this.http.close();
    this.log.info({ event: 'stopped', workers: this.count }, 'every worker stopped');
    this.finished();
  }
}

/** `serve --workers N` in the primary process; resolves with the exit code. */
export async function runPrimary(configPath: string, count: number): Promise<number> {
  const loaded = await loadConfig(configPath);
  // Every file the workers will read, read once here: a bad one is one error line, not N.
  await buildRuntimeConfig(loaded);
  const log = createLogger(loaded.config.log.level, loaded.config.log.format).child({ role: 'primary' });
  const short = shortfalls(loaded.config, count);
  if (short.length > 0) {
    log.warn(
      { event: 'worker_share_rounded_up', workers: count, keys: short },
      `below the worker count, so each worker gets 1 and the workers together may exceed it: ${short.join(', ')}`,
    );
  }
  const { listen } = loaded.config;
  const reusePort = reusePortFor(loaded.config, count);
  if (reusePort) {
    await assertPortFree(listen.host, listen.port);
  } else if (listen.reuse_port) {
    const why = listen.port === 0 ? 'listen.port is 0 (each worker would get a port of its own)' : `Node ${process.version} has no reusePort (22.12, 23.1 and later have it)`;
    log.warn({ event: 'reuse_port_ignored', reason: why }, `listen.reuse_port ignored: ${why}; the primary hands connections to the workers`);
  }
  const primary = new Primary(configPath, count, log, loaded.config.shutdown_timeout, loaded.config.peer_id);
  await primary.renewal.apply(loaded.config);
  try {
    await primary.followHttp(loaded.config.admin.http);
  } catch (err) {
    await primary.renewal.close();
    throw err;
  }
  primary.start();
  log.info({ event: 'cluster_started', workers: count, pid: process.pid, reuse_port: reusePort }, `starting ${count} workers`);
  const code = await primary.done;
  await new Promise<void>((resolve) => log.flush(() => resolve()));
  return code;
}
