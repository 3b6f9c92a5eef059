/** `serve --workers N|auto`: how many worker processes (1 = no cluster at all). */
import { availableParallelism } from 'node:os';
import { InvalidArgumentError } from 'commander';

/** More would be a typo, not a machine: every worker holds its own pools and TLS state. */
const MAX_WORKERS = 256;

export function parseWorkers(value: string): number {
  const v = value.trim();
  if (v === 'auto') return Math.min(MAX_WORKERS, availableParallelism());
  if (!/^[0-9]+$/.test(v) || Number(v) < 1 || Number(v) > MAX_WORKERS) {
    throw new InvalidArgumentError(`expected a whole number from 1 to ${MAX_WORKERS}, or auto (one per CPU)`);
  }
  return Number(v);
}
