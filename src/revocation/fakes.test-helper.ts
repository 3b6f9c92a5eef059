/** Fakes for the revocation seams: a source held in memory and a logger whose lines a test reads. */
import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import type { Revocation, RevocationChange, RevocationFreshness, RevocationListener, RevocationSource } from './source.js';

/** A RevocationSource whose list a test sets (the shape a PostgreSQL or OCSP source would have). */
export class FakeSource implements RevocationSource {
  private revoked = new Map<string, Revocation>();
  private readonly listeners = new Set<RevocationListener>();
  readonly calls: string[] = [];

  constructor(
    readonly name: string,
    serials: readonly string[] = [],
  ) {
    for (const s of serials) this.revoked.set(s, { serial: s, revokedAt: undefined, reason: undefined });
  }

  /** Revokes `serials` and tells the listeners, as a source does when its list changes. */
  revoke(serials: readonly string[], publishedAt = Date.now()): void {
    const added = serials.filter((s) => !this.revoked.has(s));
    for (const s of serials) this.revoked.set(s, { serial: s, revokedAt: new Date(publishedAt), reason: 'keyCompromise' });
    this.emit({ source: this.name, added, removed: [], publishedAt });
  }

  lift(serials: readonly string[]): void {
    for (const s of serials) this.revoked.delete(s);
    this.emit({ source: this.name, added: [], removed: [...serials], publishedAt: Date.now() });
  }

  lookup(serial: string): Revocation | undefined {
    return this.revoked.get(serial);
  }

  serials(): Iterable<string> {
    return this.revoked.keys();
  }

  freshness(): RevocationFreshness {
    return { source: this.name, thisUpdate: undefined, nextUpdate: undefined, loadedAt: 0, sequence: [], revokedCount: this.revoked.size };
  }

  subscribe(listener: RevocationListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get listenerCount(): number {
    return this.listeners.size;
  }

  start(): void {
    this.calls.push('start');
  }

  stop(): void {
    this.calls.push('stop');
  }

  poll(now: number): void {
    this.calls.push(`poll ${now}`);
  }

  private emit(change: RevocationChange): void {
    for (const l of [...this.listeners]) l(change);
  }
}

/** A pino logger that keeps its lines as objects. */
export function captureLog(): { log: Logger; lines: Record<string, unknown>[]; events(name: string): Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level: 'debug', base: undefined }, sink), lines, events: (name) => lines.filter((l) => l.event === name) };
}
