/**
 * Every revocation source of a gateway as one: a serial is revoked when any source lists it, a
 * change of any source reaches every listener, and sources come and go with the configuration
 * (runtime/revocation-sources.ts). The TLS verdict, the login and the session enforcer hold this
 * object and never a source, so a new source needs no change there.
 */
import type { Revocation, RevocationChange, RevocationCheck, RevocationFreshness, RevocationListener, RevocationSource } from './source.js';

interface Entry {
  readonly source: RevocationSource;
  readonly unsubscribe: () => void;
}

export class Revocations implements RevocationCheck {
  private readonly sources = new Map<string, Entry>();
  private readonly listeners = new Set<RevocationListener>();
  private started = false;

  /** The source of that name, for whoever configures it. */
  get(name: string): RevocationSource | undefined {
    return this.sources.get(name)?.source;
  }

  /**
   * Adds `source`, in place of the one of the same name (which is stopped). Started at once when
   * the gateway already runs. The listeners hear of it as a change: its serials are revoked now.
   */
  set(source: RevocationSource): void {
    const old = this.sources.get(source.name);
    if (old?.source === source) return;
    this.detach(old);
    this.sources.set(source.name, { source, unsubscribe: source.subscribe((c) => this.emit(c)) });
    if (this.started) source.start();
    const before = new Set(old ? old.source.serials() : []);
    const now = new Set(source.serials());
    this.emit({ source: source.name, added: [...now].filter((s) => !before.has(s)), removed: [...before].filter((s) => !now.has(s)), publishedAt: Date.now() });
  }

  /** Removes (and stops) the source of that name; its serials are no longer revoked by it. */
  delete(name: string): void {
    const old = this.sources.get(name);
    if (!old) return;
    this.detach(old);
    this.sources.delete(name);
    this.emit({ source: name, added: [], removed: [...old.source.serials()], publishedAt: Date.now() });
  }

  lookup(serial: string): Revocation | undefined {
    for (const { source } of this.sources.values()) {
      const r = source.lookup(serial);
      if (r) return r;
    }
    return undefined;
  }

  /** Every serial any source lists, sorted (the TLS ticket keys derive from them). */
  serials(): string[] {
    const all = new Set<string>();
    for (const { source } of this.sources.values()) for (const s of source.serials()) all.add(s);
    return [...all].sort();
  }

  /** One entry per source that holds a list. */
  freshness(now = Date.now()): RevocationFreshness[] {
    return [...this.sources.values()].flatMap(({ source }) => source.freshness(now) ?? []);
  }

  subscribe(listener: RevocationListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  start(): void {
    this.started = true;
    for (const { source } of this.sources.values()) source.start();
  }

  stop(): void {
    this.started = false;
    for (const { source } of this.sources.values()) source.stop();
  }

  poll(now: number): void {
    for (const { source } of this.sources.values()) source.poll(now);
  }

  private detach(entry: Entry | undefined): void {
    if (!entry) return;
    entry.unsubscribe();
    entry.source.stop();
  }

  private emit(change: RevocationChange): void {
    for (const listener of [...this.listeners]) listener(change);
  }
}
