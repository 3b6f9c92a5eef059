/**
 * Renewals per identity (CN + environment) in a sliding window: a stolen key that still holds a
 * valid certificate cannot mint certificates as fast as it likes. Kept in memory by the process
 * that serves renewals; a restart forgets it, which only ever lets a client renew sooner.
 */
export interface RenewalRateLimit {
  /** Requests allowed per identity within `windowMs`. */
  max: number;
  windowMs: number;
}

export class RenewalRateLimiter {
  private readonly seen = new Map<string, number[]>();

  constructor(private readonly limit: RenewalRateLimit) {}

  /**
   * Counts one request for `key` at `now` (ms). Returns 0 when it may go on, else the seconds
   * until one more is allowed (for Retry-After); a refused request is not counted.
   */
  take(key: string, now: number): number {
    const since = now - this.limit.windowMs;
    const times = (this.seen.get(key) ?? []).filter((t) => t > since);
    if (times.length >= this.limit.max) {
      this.seen.set(key, times);
      return Math.max(1, Math.ceil((times[0]! + this.limit.windowMs - now) / 1000));
    }
    times.push(now);
    this.seen.set(key, times);
    // Forget identities that went quiet, so the map does not grow with every client ever seen.
    if (this.seen.size > 10_000) {
      for (const [k, ts] of this.seen) if ((ts.at(-1) ?? 0) <= since) this.seen.delete(k);
    }
    return 0;
  }
}
