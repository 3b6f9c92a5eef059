/**
 * Sizes in the config file: a number of bytes or a string with a unit. Units are binary
 * (1kB = 1024 bytes), as in postgresql.conf, so "1GB" here means what it means there.
 */
import type { ParseResult } from './duration.js';

const UNIT_BYTES: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };
const SIZE_RE = /^(\d+(?:\.\d+)?|\.\d+)\s*(b|kb|mb|gb)?$/i;

export const SIZE_EXPECTED = 'expected a size: bytes, or a string like "64kB", "16MB", "1GB"';

export function parseSize(input: unknown): ParseResult {
  let bytes: number;
  if (typeof input === 'number') {
    if (!Number.isInteger(input)) return { ok: false, reason: 'expected a whole number of bytes' };
    bytes = input;
  } else if (typeof input === 'string') {
    const m = SIZE_RE.exec(input.trim());
    if (!m) return { ok: false, reason: SIZE_EXPECTED };
    const unit = (m[2] ?? 'b').toLowerCase();
    bytes = Number(m[1]) * (UNIT_BYTES[unit] ?? 1);
    if (!Number.isInteger(bytes)) return { ok: false, reason: 'expected a whole number of bytes' };
  } else {
    return { ok: false, reason: SIZE_EXPECTED };
  }
  if (bytes < 0 || !Number.isSafeInteger(bytes)) return { ok: false, reason: SIZE_EXPECTED };
  return { ok: true, value: bytes };
}

/** Formats bytes with the largest unit that divides them exactly ("1GB", "1536kB", "100"). */
export function formatSize(bytes: number): string {
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw new RangeError(`not a size in bytes: ${bytes}`);
  if (bytes === 0) return '0';
  for (const [unit, label] of [['gb', 'GB'], ['mb', 'MB'], ['kb', 'kB']] as const) {
    const factor = UNIT_BYTES[unit] ?? 1;
    if (bytes % factor === 0) return `${bytes / factor}${label}`;
  }
  return String(bytes);
}
