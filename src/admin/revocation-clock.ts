/**
 * When each serial was revoked, as the gateway learnt it (the CRL's publication: crl.pem's mtime,
 * revocation/source.ts RevocationChange.publishedAt), kept until the first connection of that
 * serial is refused: pgmoat_revocation_delay_seconds{event="first_refusal"}. Serials already
 * revoked when the metrics attached are not timed (their revocation predates what this gateway
 * saw). At most one entry per serial revoked while running and not yet refused; a serial that a
 * newer list no longer revokes is dropped.
 */
import type { RevocationChange } from '../revocation/source.js';

export interface RevocationFeed {
  subscribe(listener: (change: RevocationChange) => void): () => void;
}

export class RevocationClock {
  private readonly publishedAt = new Map<string, number>();
  private readonly unsubscribe: () => void;

  constructor(feed: RevocationFeed) {
    this.unsubscribe = feed.subscribe((change) => {
      for (const serial of change.added) if (!this.publishedAt.has(serial)) this.publishedAt.set(serial, change.publishedAt);
      for (const serial of change.removed) this.publishedAt.delete(serial);
    });
  }

  /** Milliseconds since `serial` was revoked, the first time it is asked; undefined after that, or when not timed. */
  firstRefusal(serial: string, now = Date.now()): number | undefined {
    const at = this.publishedAt.get(serial);
    if (at === undefined) return undefined;
    this.publishedAt.delete(serial);
    return Math.max(0, now - at);
  }

  close(): void {
    this.unsubscribe();
    this.publishedAt.clear();
  }
}
