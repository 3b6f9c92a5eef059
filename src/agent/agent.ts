/**
 * `pgmoat agent`: keeps one certificate/key pair fresh through the renewal service. It sleeps
 * until the renewal moment (schedule.ts), renews with the current pair, installs the new one
 * crash-safely (pair-files.ts), then runs a command or signals a process so that whoever uses
 * the files takes them. A failed attempt is retried with backoff. The agent gives up, with a
 * non-zero exit and the reason, when renewal can never work again: the service refused for
 * good (a revoked certificate, an identity it will not renew), or the certificate has expired
 * and the service refused it.
 */
import { spawn } from 'node:child_process';
import type { Logger } from 'pino';
import { errorMessage } from '../util/errors.js';
import { checkPair, finishPending, installPair, readPair, type Pair, type PairFacts, type PairPaths } from './pair-files.js';
import { DEFAULT_POLICY, renewalTime, retryDelay, type RenewalPolicy } from './schedule.js';

/** Why a renewal attempt failed: `permanent` when trying again cannot help. */
export class RenewalFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly permanent: boolean,
  ) {
    super(message);
    this.name = 'RenewalFailure';
  }
}

/** One renewal with the current pair: the service's answer, with a new key made here. */
export type Renew = (current: Pair) => Promise<Pair>;

export interface AgentOptions {
  paths: PairPaths;
  renew: Renew;
  policy?: RenewalPolicy;
  /** Run through `sh -c` after each renewal, with PGMOAT_CERT, PGMOAT_KEY and PGMOAT_SERIAL set. */
  exec?: string | undefined;
  /** Signalled after each renewal (e.g. a server that reloads its certificate on SIGHUP). */
  signal?: { pid: number; signal: NodeJS.Signals } | undefined;
  /** Renew at once, then return (no schedule). */
  once?: boolean;
  log: Logger;
  /** For tests: the clock, the jitter's random source and how the agent waits. */
  now?: () => number;
  random?: () => number;
  sleep?: (ms: number, abort: AbortSignal) => Promise<void>;
}

export interface AgentResult {
  renewals: number;
  /** Set when the agent gave up: the reason, for the exit message. */
  gaveUp?: { code: string; message: string };
}

function defaultSleep(ms: number, abort: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (abort.aborted) return resolve();
    // Long waits are cut into pieces: a suspended laptop wakes to a clock that moved on.
    const timer = setTimeout(done, Math.min(ms, 60_000));
    function done(): void {
      clearTimeout(timer);
      abort.removeEventListener('abort', done);
      resolve();
    }
    abort.addEventListener('abort', done, { once: true });
  });
}

function runExec(command: string, env: Record<string, string>, log: Logger): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn('/bin/sh', ['-c', command], { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, ...env } });
    child.on('error', (err) => {
      log.error({ event: 'exec_failed', command, error: err.message }, 'the --exec command could not start');
      resolve();
    });
    child.on('exit', (code, signal) => {
      const level = code === 0 ? 'info' : 'warn';
      log[level]({ event: 'exec_done', command, exit_code: code, signal }, code === 0 ? 'the --exec command ran' : 'the --exec command failed');
      resolve();
    });
  });
}

export class Agent {
  private readonly abort = new AbortController();
  private readonly policy: RenewalPolicy;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly sleep: (ms: number, abort: AbortSignal) => Promise<void>;

  constructor(private readonly opts: AgentOptions) {
    this.policy = opts.policy ?? DEFAULT_POLICY;
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? Math.random;
    this.sleep = opts.sleep ?? defaultSleep;
  }

  stop(): void {
    this.abort.abort();
  }

  /** Runs until stop(), or until renewal can no longer work (then `gaveUp` says why). */
  async run(): Promise<AgentResult> {
    const { log, paths } = this.opts;
    const pending = finishPending(paths);
    if (pending !== 'none') log.warn({ event: 'pending_pair', outcome: pending }, pending === 'finished' ? 'finished installing a pair an earlier run had written' : 'removed the leftovers of an interrupted renewal');
    let current = readPair(paths);
    let facts = checkPair(current, paths.cert);
    let renewals = 0;
    let failures = 0;
    log.info({ event: 'agent_started', cert: paths.cert, serial: facts.serial, not_after: new Date(facts.notAfter).toISOString() }, 'agent watching the certificate');
    let due = this.opts.once ? this.now() : this.schedule(facts);
    while (!this.abort.signal.aborted) {
      const wait = due - this.now();
      if (wait > 0) {
        await this.sleep(wait, this.abort.signal);
        continue;
      }
      try {
        // The files may have been replaced by someone else since: renew what is there now.
        current = readPair(paths);
        const before = checkPair(current, paths.cert);
        const renewed = await this.opts.renew(current);
        const after = checkPair(renewed, 'the renewed pair');
        installPair(paths, renewed);
        current = renewed;
        facts = after;
        renewals++;
        failures = 0;
        log.info(
          { event: 'renewed', old_serial: before.serial, new_serial: after.serial, not_after: new Date(after.notAfter).toISOString() },
          'certificate renewed',
        );
        await this.notify(after);
        if (this.opts.once) return { renewals };
        due = this.schedule(after);
      } catch (err) {
        failures++;
        const code = err instanceof RenewalFailure ? err.code : ((err as { code?: string }).code ?? 'RENEWAL_FAILED');
        const expired = this.now() >= facts.notAfter;
        if ((err instanceof RenewalFailure && err.permanent) || (expired && err instanceof RenewalFailure) || this.opts.once) {
          const message = expired
            ? `the certificate ${paths.cert} (serial ${facts.serial}) expired at ${new Date(facts.notAfter).toISOString()} and the renewal was refused: ${errorMessage(err)}`
            : `renewal of ${paths.cert} (serial ${facts.serial}) failed: ${errorMessage(err)}`;
          log.error({ event: 'agent_gave_up', code, serial: facts.serial, expired }, message);
          return { renewals, gaveUp: { code, message } };
        }
        const delay = retryDelay(failures, this.now(), facts.notAfter);
        log.warn({ event: 'renewal_failed', code, error: errorMessage(err), failures, retry_in_ms: Math.round(delay) }, 'renewal failed; trying again');
        due = this.now() + delay;
      }
    }
    return { renewals };
  }

  private schedule(facts: PairFacts): number {
    const at = renewalTime(facts.notBefore, facts.notAfter, this.policy, this.random());
    this.opts.log.info({ event: 'renewal_scheduled', serial: facts.serial, at: new Date(at).toISOString() }, 'next renewal scheduled');
    return at;
  }

  private async notify(facts: PairFacts): Promise<void> {
    const { exec, signal, log, paths } = this.opts;
    if (exec) await runExec(exec, { PGMOAT_CERT: paths.cert, PGMOAT_KEY: paths.key, PGMOAT_SERIAL: facts.serial }, log);
    if (signal) {
      try {
        process.kill(signal.pid, signal.signal);
        log.info({ event: 'signalled', pid: signal.pid, signal: signal.signal }, 'process signalled');
      } catch (err) {
        log.warn({ event: 'signal_failed', pid: signal.pid, signal: signal.signal, error: errorMessage(err) }, 'could not signal the process');
      }
    }
  }
}
