/**
 * The certificate identities seen lately, for pgmoat_client_certificate_not_after_timestamp_seconds.
 * Only identities whose chain verified are recorded (never what an unknown client claims), and the
 * set stays bounded: entries not seen for 24 hours are dropped at scrape time, and past MAX_ENTRIES
 * the least recently seen goes first. Identities of live sessions are added at scrape time too.
 */
import { identityName, type PeerIdentity } from '../tls/peer-identity.js';

export const SEEN_WINDOW_MS = 24 * 3600 * 1000;
const MAX_ENTRIES = 10_000;

export interface SeenIdentity {
  cn: string;
  environment: string;
  serial: string;
  notBefore: Date;
  notAfter: Date;
  lastSeen: number;
}

export class IdentityTracker {
  /** Keyed by serial and fingerprint; Map order is insertion order, refreshed on every sighting. */
  private readonly seen = new Map<string, SeenIdentity>();

  constructor(private readonly maxEntries = MAX_ENTRIES) {}

  record(id: PeerIdentity, now = Date.now()): void {
    const key = `${id.serial}/${id.fingerprint256}`;
    this.seen.delete(key);
    this.seen.set(key, { cn: identityName(id), environment: id.environment ?? '', serial: id.serial, notBefore: id.notBefore, notAfter: id.notAfter, lastSeen: now });
    if (this.seen.size > this.maxEntries) {
      const oldest = this.seen.keys().next();
      if (!oldest.done) this.seen.delete(oldest.value);
    }
  }

  /** Identities seen within the window (the older ones are forgotten now). */
  recent(now = Date.now()): SeenIdentity[] {
    const out: SeenIdentity[] = [];
    for (const [key, e] of this.seen) {
      if (now - e.lastSeen > SEEN_WINDOW_MS) this.seen.delete(key);
      else out.push(e);
    }
    return out;
  }

  get size(): number {
    return this.seen.size;
  }
}
