/**
 * Durations in the config file: a number of seconds (fractions allowed) or a string with a
 * unit. Everything downstream works in milliseconds, so parsing normalizes to whole ms.
 */

/** setTimeout and friends overflow past 2^31-1 ms (about 24.8 days); nothing should exceed it. */
export const MAX_DURATION_MS = 2_147_483_647;

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
type Unit = keyof typeof UNIT_MS;

const DURATION_RE = /^(\d+(?:\.\d+)?|\.\d+)\s*(ms|s|m|h|d)?$/;

export type ParseResult = { ok: true; value: number } | { ok: false; reason: string };

export const DURATION_EXPECTED = 'expected a duration: seconds, or a string like "500ms", "30s", "5m", "2h", "1d"';

/** Parses a duration to whole milliseconds. A bare number (or numeric string) means seconds. */
export function parseDuration(input: unknown): ParseResult {
  let amount: number;
  let unit: Unit = 's';
  if (typeof input === 'number') {
    amount = input;
  } else if (typeof input === 'string') {
    const m = DURATION_RE.exec(input.trim());
    if (!m) return { ok: false, reason: DURATION_EXPECTED };
    amount = Number(m[1]);
    unit = (m[2] as Unit | undefined) ?? 's';
  } else {
    return { ok: false, reason: DURATION_EXPECTED };
  }
  if (!Number.isFinite(amount)) return { ok: false, reason: DURATION_EXPECTED };
  if (amount < 0) return { ok: false, reason: 'expected a duration of 0 or more' };
  const ms = Math.round(amount * UNIT_MS[unit]);
  // Rounding 0.0001s to 0 would silently turn a timeout into "disabled".
  if (ms === 0 && amount > 0) return { ok: false, reason: 'expected a duration of at least 1ms (or 0)' };
  if (ms > MAX_DURATION_MS) return { ok: false, reason: 'expected a duration of at most 2147483647ms (about 24.8 days)' };
  return { ok: true, value: ms };
}

/** Formats whole milliseconds with the largest unit that divides them exactly ("30s", "5m", "1500ms"). */
export function formatDuration(ms: number): string {
  if (!Number.isInteger(ms) || ms < 0) throw new RangeError(`not a duration in ms: ${ms}`);
  if (ms === 0) return '0s';
  const units: Unit[] = ['d', 'h', 'm', 's'];
  for (const unit of units) {
    if (ms % UNIT_MS[unit] === 0) return `${ms / UNIT_MS[unit]}${unit}`;
  }
  return `${ms}ms`;
}
