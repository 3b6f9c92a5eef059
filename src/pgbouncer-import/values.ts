/**
 * PgBouncer's value syntaxes (integers, seconds as a float, 0/1 booleans, comma lists) and
 * their pgmoat forms. Each parser returns the value or a reason a person can act on.
 */
import { POOL_MODES, type PoolMode } from '../config/schema.js';

export type Parsed<T> = { ok: true; value: T } | { ok: false; why: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = <T>(why: string): Parsed<T> => ({ ok: false, why });

/** Node's timers and pgmoat's durations stop at 2^31-1 ms. */
const MAX_DURATION_MS = 2_147_483_647;

export function parseInteger(value: string, min: number, max = Number.MAX_SAFE_INTEGER): Parsed<number> {
  if (!/^[+-]?\d+$/.test(value.trim())) return fail(`expected a whole number, got ${JSON.stringify(value)}`);
  const n = Number(value.trim());
  if (n < min || n > max) {
    return fail(max === Number.MAX_SAFE_INTEGER ? `pgmoat needs at least ${min}, got ${n}` : `pgmoat needs ${min} to ${max}, got ${n}`);
  }
  return ok(n);
}

/**
 * PgBouncer times are seconds read with strtod. pgmoat reads a bare number as seconds too,
 * so the number is kept as written (after checking pgmoat's limits).
 */
export function parseSeconds(value: string): Parsed<number> {
  const v = value.trim();
  if (!/^\+?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(v)) return fail(`expected a number of seconds, got ${JSON.stringify(value)}`);
  const seconds = Number(v);
  const ms = Math.round(seconds * 1000);
  if (seconds > 0 && ms === 0) return fail(`${v}s is below pgmoat's 1 ms resolution`);
  if (ms > MAX_DURATION_MS) return fail(`${v}s is over pgmoat's limit of ${MAX_DURATION_MS / 1000}s (about 24.8 days)`);
  return ok(seconds);
}

/** PgBouncer booleans are integers (0 off, anything else on); the usual words are accepted too. */
export function parseBoolean(value: string): Parsed<boolean> {
  const v = value.trim().toLowerCase();
  if (['1', 'on', 'true', 'yes'].includes(v)) return ok(true);
  if (['0', 'off', 'false', 'no'].includes(v)) return ok(false);
  if (/^[+-]?\d+$/.test(v)) return ok(Number(v) !== 0);
  return fail(`expected 0 or 1, got ${JSON.stringify(value)}`);
}

export function parsePoolMode(value: string): Parsed<PoolMode> {
  const v = value.trim().toLowerCase();
  return (POOL_MODES as readonly string[]).includes(v) ? ok(v as PoolMode) : fail(`expected session, transaction or statement, got ${JSON.stringify(value)}`);
}

/** `a, b c` -> [a, b, c] (PgBouncer's lists take commas; spaces are tolerated). */
export function parseList(value: string): string[] {
  return value
    .split(/[,\s]+/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}
