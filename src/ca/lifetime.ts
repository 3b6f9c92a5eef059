/**
 * Certificate lifetimes as typed by a person: `90m`, `24h`, `30d`. Short-lived certificates
 * (hours or minutes) are what makes revocation matter less; the bounds keep a typo from making
 * a certificate that dies before it is deployed or outlives everything.
 */
import { PgmoatError } from '../util/errors.js';
import { quote } from './identity-format.js';

export const MINUTE_MS = 60_000;
export const HOUR_MS = 60 * MINUTE_MS;
export const DAY_MS = 24 * HOUR_MS;
/** Below this a certificate would expire while it is still being rolled out. */
export const MIN_LIFETIME_MS = 5 * MINUTE_MS;
export const MAX_LIFETIME_MS = 36_500 * DAY_MS;

export interface Lifetime {
  readonly ms: number;
  /** As typed, normalised (e.g. `24h`), for messages and defaults.json. */
  readonly text: string;
}

const UNITS = { m: MINUTE_MS, h: HOUR_MS, d: DAY_MS } as const;

export function parseLifetime(value: string, option = '--lifetime'): Lifetime {
  const text = String(value).trim();
  const m = /^([0-9]{1,9})([mhd])$/.exec(text);
  const ms = m ? Number(m[1]) * UNITS[m[2] as keyof typeof UNITS] : NaN;
  if (!m || !(ms >= MIN_LIFETIME_MS && ms <= MAX_LIFETIME_MS)) {
    throw new PgmoatError(
      'INVALID_LIFETIME',
      `${option} must be a whole number of minutes, hours or days (e.g. 90m, 24h, 30d) from 5m to 36500d, got ${quote(text)}`,
    );
  }
  return { ms, text: `${Number(m[1])}${m[2]}` };
}

export function lifetimeOfDays(days: number): Lifetime {
  return { ms: days * DAY_MS, text: `${days}d` };
}

/**
 * How far notBefore goes back from now, so a host whose clock runs a little slow still accepts a
 * fresh certificate: 5 minutes, but never more than a tenth of the lifetime (a 10-minute
 * certificate is backdated by 1 minute).
 */
export function backdateFor(lifetimeMs: number): number {
  return Math.min(5 * MINUTE_MS, Math.floor(lifetimeMs / 10));
}

/**
 * The lifetime a pgmoat-issued certificate was asked for, from its span (notAfter - notBefore):
 * issuing backdates notBefore by backdateFor(lifetime) (a tenth, at most 5 minutes).
 */
export function lifetimeOfSpan(spanMs: number): number {
  const cap = 5 * MINUTE_MS;
  if (spanMs > cap * 11) return spanMs - cap;
  return Math.round(spanMs / 1.1);
}
