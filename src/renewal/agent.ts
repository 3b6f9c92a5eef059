/**
 * `pgmoat agent`: keeps one certificate/key pair fresh through the renewal service. It renews
 * once `renewAt` of the certificate's lifetime has passed (with jitter, so a fleet issued at
 * once does not renew at once), then runs a command or signals a process so the user of the
 * files picks them up; a failed renewal is retried with exponential backoff. It gives up, with
 * a clear message and exit status 1, when the service refuses for good: a revoked or unknown
 * certificate, or one that has expired.
 */
import { spawn } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { PgmoatError, errorMessage, isPgmoatError } from '../util/errors.js';
import { remoteRenew, type RemoteRenewOptions } from './remote-renew.js';
import { normalizeSerial } from '../util/serial.js';

export interface AgentOptions extends RemoteRenewOptions {
  /** Fraction of the lifetime after which to renew (0 < f < 1; default 2/3). */
  renewAt: number;
  /** Spread of the renewal point, as a fraction of the lifetime (default 0.05: ± 2.5 %). */
  jitter: number;
  /** Run through the shell after each renewal. */
  exec?: string | undefined;
  /** Signal this process after each renewal. */
  signalPid?: number | undefined;
  signal?: NodeJS.Signals | undefined;
  retryMinMs: number;
  retryMaxMs: number;
  log: Logger;
}

/** Codes after which retrying cannot help: the certificate itself is refused. */
const FINAL: readonly string[] = ['RENEWAL_REVOKED', 'RENEWAL_UNKNOWN_CA', 'RENEWAL_CERT_UNKNOWN', 'RENEWAL_NOT_CLIENT', 'RENEWAL_EXPIRED', 'RENEWAL_IDENTITY_CHANGED'];
/** setTimeout's limit; longer waits are taken in steps. */
const MAX_TIMER_MS = 2_147_483_647;

export function renewalTime(cert: { notBefore: Date; notAfter: Date }, renewAt: number, jitter: number, random = Math.random): Date {
  const life = cert.notAfter.getTime() - cert.notBefore.getTime();
  const fraction = Math.min(0.99, Math.max(0.01, renewAt + (random() - 0.5) * jitter));
  return new Date(cert.notBefore.getTime() + Math.round(life * fraction));
}

function readValidity(path: string): { notBefore: Date; notAfter: Date; serial: string } {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(readFileSync(path));
  } catch (err) {
    throw new PgmoatError('CERT_INVALID', `cannot read the certificate ${path}: ${errorMessage(err)}`, { cause: err });
  }
  return { notBefore: new Date(cert.validFrom), notAfter: new Date(cert.validTo), serial: normalizeSerial(cert.serialNumber) };
}

export class RenewalAgent {
  private stopped = false;
  private wake: (() => void) | undefined;

  constructor(private readonly opts: AgentOptions) {}

  stop(): void {
    this.stopped = true;
    this.wake?.();
  }

  private async sleepUntil(when: number): Promise<void> {
    while (!this.stopped && Date.now() < when) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(MAX_TIMER_MS, when - Date.now()));
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  private async afterRenewal(): Promise<void> {
    const { exec, signalPid, log } = this.opts;
    if (signalPid !== undefined) {
      const signal = this.opts.signal ?? 'SIGHUP';
      try {
        process.kill(signalPid, signal);
        log.info({ event: 'agent_signalled', pid: signalPid, signal }, 'signalled');
      } catch (err) {
        log.error({ event: 'agent_signal_failed', pid: signalPid, signal, err: errorMessage(err) }, 'cannot signal the process');
      }
    }
    if (exec !== undefined) {
      const code = await new Promise<number | null>((resolve) => {
        const child = spawn('/bin/sh', ['-c', exec], { stdio: ['ignore', 'inherit', 'inherit'] });
        child.on('error', () => resolve(null));
        child.on('close', (c) => resolve(c));
      });
      if (code === 0) log.info({ event: 'agent_exec', exit_code: code }, '--exec command ran');
      else log.error({ event: 'agent_exec', exit_code: code }, '--exec command failed');
    }
  }

  /** Runs until stop() (resolves) or a final refusal (rejects with a PgmoatError). */
  async run(): Promise<void> {
    const { log } = this.opts;
    let failures = 0;
    while (!this.stopped) {
      const cert = readValidity(this.opts.certPath);
      const at = failures === 0 ? renewalTime(cert, this.opts.renewAt, this.opts.jitter).getTime() : Date.now();
      if (failures === 0) log.info({ event: 'agent_scheduled', serial: cert.serial, renew_at: new Date(at).toISOString(), not_after: cert.notAfter.toISOString() }, 'next renewal scheduled');
      await this.sleepUntil(at);
      if (this.stopped) break;
      try {
        const r = await remoteRenew(this.opts);
        failures = 0;
        log.info({ event: 'agent_renewed', old_serial: r.oldSerial, serial: r.serial, not_after: r.notAfter.toISOString(), recovered: r.recovered }, 'certificate renewed');
        await this.afterRenewal();
      } catch (err) {
        failures += 1;
        const code = isPgmoatError(err) ? (err.code === 'RENEWAL_REFUSED' ? (err.detail ?? err.code) : err.code) : 'UNEXPECTED';
        const expired = Date.now() > cert.notAfter.getTime();
        if (FINAL.includes(code) || (expired && isPgmoatError(err) && err.code === 'RENEWAL_REFUSED')) {
          log.fatal({ event: 'agent_gave_up', code, serial: cert.serial, expired, err: errorMessage(err) }, 'renewal refused for good');
          throw new PgmoatError('RENEWAL_REFUSED', `${errorMessage(err)}; the agent stops: ${expired ? 'the certificate has expired' : 'this certificate can no longer renew'}, issue a new one with pgmoat issue`);
        }
        const backoff = Math.min(this.opts.retryMaxMs, this.opts.retryMinMs * 2 ** Math.min(failures - 1, 20));
        const delay = backoff / 2 + Math.random() * (backoff / 2);
        log.warn({ event: 'agent_retry', code, attempt: failures, retry_in_ms: Math.round(delay), expired, err: errorMessage(err) }, 'renewal failed; retrying');
        await this.sleepUntil(Date.now() + delay);
      }
    }
  }
}
