/** Counters of a run, bounded: keys are few and fixed-shape, never per input. */
import type { Layer } from './script.js';

const MAX_KEYS = 400;

export class Counter {
  readonly map = new Map<string, number>();
  add(key: string, n = 1): void {
    const k = this.map.has(key) || this.map.size < MAX_KEYS ? key : '(other)';
    this.map.set(k, (this.map.get(k) ?? 0) + n);
  }
  get(key: string): number {
    return this.map.get(key) ?? 0;
  }
  toJSON(): Record<string, number> {
    return Object.fromEntries([...this.map.entries()].sort((a, b) => b[1] - a[1]));
  }
}

export class RunStats {
  scripts = 0;
  inputs = 0;
  readonly inputsByLayer: Record<Layer, number> = { 'pre-tls': 0, tls: 0, 'post-login': 0 };
  readonly scriptsByLayer: Record<Layer, number> = { 'pre-tls': 0, tls: 0, 'post-login': 0 };
  /** Wall time scripts spent, by layer (with concurrency, more than the run took). */
  readonly msByLayer: Record<Layer, number> = { 'pre-tls': 0, tls: 0, 'post-login': 0 };
  /** How each script ended, by layer: `post-login:probe-timeout`, `tls:tls-failed`, ... */
  readonly outcomes = new Counter();
  /** Kinds of input (the generator's note up to its first colon), by layer. */
  readonly kinds = new Counter();
  /** Wall time spent per step kind and layer (where a run's time goes). */
  readonly msByStep = new Counter();
  /** TLS handshakes the fuzz clients completed: full, resumed. */
  readonly handshakes = new Counter();
  /** Internal errors (SQLSTATE class XX) the fuzz clients received: the first few, with the script that got them. */
  readonly internalErrors: { script: number; layer: Layer; error: string }[] = [];
  /** Scripts whose probe got no answer in time although the connection stayed open (the first few). */
  readonly probeTimeouts: number[] = [];
  /** SQLSTATEs of ErrorResponses the fuzz clients received. */
  readonly sqlstates = new Counter();
}

/** The part of a note that names the kind of input, without offsets and lengths. */
export function kindOf(note: string): string {
  const parts = note.split(':');
  // 'refused-cert:foreign', 'hello:bytes', 'type-swap:3:Q': keep words, drop numbers.
  return parts.filter((p, i) => i === 0 || (/^[a-z-]+$/.test(p) && p.length > 1)).slice(0, 2).join(':');
}
