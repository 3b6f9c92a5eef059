/**
 * When a pool may try again to open a server connection after a failure. The first retry comes
 * after FIRST_RETRY_MS and the delay doubles up to server_login_retry, so that a PostgreSQL
 * back from a restart is used within a fraction of a second while one that stays down is not
 * hammered. One success clears it.
 */

const FIRST_RETRY_MS = 100;

export class ConnectBackoff {
  /** Rounds of failed attempts in a row since the last success. */
  failures = 0;
  /** No new attempt before this time (ms since the epoch). */
  blockedUntil = 0;
  /** The last failure, for the errors and logs that explain a wait. */
  lastError: Error | undefined;
  lastErrorAt = 0;

  /**
   * One failed attempt; returns how long until the next may start. Attempts opened together (a
   * burst of waiting clients) that fail together are one round: only the first doubles the delay.
   */
  failed(err: Error, now: number, maxDelayMs: number, attemptStartedAt: number): number {
    const sameRound = this.failures > 0 && attemptStartedAt < this.lastErrorAt;
    this.lastError = err;
    this.lastErrorAt = now;
    if (sameRound) return Math.max(0, this.blockedUntil - now);
    this.failures++;
    const cap = Math.max(maxDelayMs, FIRST_RETRY_MS);
    const delay = Math.min(cap, FIRST_RETRY_MS * 2 ** Math.min(this.failures - 1, 20));
    this.blockedUntil = now + delay;
    return delay;
  }

  succeeded(): void {
    this.failures = 0;
    this.blockedUntil = 0;
    this.lastError = undefined;
  }

  blocked(now: number): boolean {
    return now < this.blockedUntil;
  }
}
