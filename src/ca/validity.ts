/** The validity window of a certificate about to be signed. */
import { PgmoatError } from '../util/errors.js';
import type { Signer } from './certificate-profiles.js';
import { parseDays } from './inputs.js';
import { backdateFor, lifetimeOfDays, lifetimeOfSpan, parseLifetime, type Lifetime } from './lifetime.js';

export interface ValidityOptions {
  /** Lifetime from now in whole days (--days). */
  days?: number;
  /** Lifetime from now as `90m`, `24h`, `30d` (--lifetime); not together with days. */
  lifetime?: string;
  /** Test-only explicit window (e.g. an already expired certificate). Overrides days. */
  notBefore?: Date;
  notAfter?: Date;
}

/** The lifetime the options ask for, or `fallback` (the CA's profile default) when they ask none. */
export function requestedLifetime(opts: Pick<ValidityOptions, 'days' | 'lifetime'>, fallback: Lifetime): Lifetime {
  if (opts.days !== undefined && opts.lifetime !== undefined) {
    throw new PgmoatError('USAGE', '--days and --lifetime both give the lifetime: pass only one');
  }
  if (opts.lifetime !== undefined) return parseLifetime(opts.lifetime);
  if (opts.days !== undefined) return lifetimeOfDays(parseDays(opts.days));
  return fallback;
}

export function resolveValidity(
  ca: Pick<Signer, 'cert'>,
  opts: ValidityOptions,
  fallback: Lifetime,
  now: Date,
): { notBefore: Date; notAfter: Date } {
  if (opts.notBefore !== undefined || opts.notAfter !== undefined) {
    const notBefore = opts.notBefore ?? new Date(now.getTime() - backdateFor(fallback.ms));
    const notAfter = opts.notAfter ?? new Date(notBefore.getTime() + fallback.ms);
    if (!(notAfter.getTime() > notBefore.getTime())) {
      throw new PgmoatError('INVALID_VALIDITY', 'notAfter must be later than notBefore');
    }
    return { notBefore, notAfter };
  }
  const lifetime = requestedLifetime(opts, fallback);
  // Certificates hold whole seconds: the inventory and `pgmoat list` then say exactly what they do.
  const start = Math.floor(now.getTime() / 1000) * 1000;
  // A slow client clock would otherwise see a fresh certificate as not valid yet.
  const notBefore = new Date(start - backdateFor(lifetime.ms));
  const notAfter = new Date(start + lifetime.ms);
  const caEnd = ca.cert.notAfter;
  if (notAfter > caEnd) {
    const option = opts.lifetime !== undefined ? `--lifetime ${lifetime.text}` : opts.days !== undefined ? `--days ${opts.days}` : `the default lifetime ${lifetime.text}`;
    throw new PgmoatError(
      opts.days !== undefined ? 'INVALID_DAYS' : 'INVALID_LIFETIME',
      `${option} would outlive the CA, which expires ${caEnd.toISOString().slice(0, 16).replace('T', ' ')} UTC; choose a shorter lifetime`,
    );
  }
  return { notBefore, notAfter };
}

/**
 * The validity of a renewed certificate: the lifetime the old one was issued with (its span less
 * issue's backdating, lifetime.ts), starting now and backdated as issue does, so that the span
 * neither grows nor shrinks from one renewal to the next (a fixed 5-minute backdate cut a renewed
 * 5-minute certificate down to 30 seconds). Never beyond `caNotAfter`: shortened rather than refused.
 */
export function renewedValidity(old: { notBefore: Date; notAfter: Date }, now: Date, caNotAfter?: Date): { notBefore: Date; notAfter: Date } {
  const lifetime = lifetimeOfSpan(old.notAfter.getTime() - old.notBefore.getTime());
  const start = Math.floor(now.getTime() / 1000) * 1000;
  const notAfter = new Date(start + lifetime);
  return { notBefore: new Date(start - backdateFor(lifetime)), notAfter: caNotAfter !== undefined && notAfter > caNotAfter ? caNotAfter : notAfter };
}
