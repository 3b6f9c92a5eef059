/**
 * When the agent renews: once a fraction of the certificate's lifetime has passed (2/3 by
 * default, as step-ca's renewer does; 0.7 is what many Vault PKI setups use), moved by a random
 * jitter so that a fleet issued at one moment does not renew at one moment. And how long it
 * waits after a failed attempt: doubling from a second, never past a cap, and never so long
 * that the certificate expires unseen.
 */

export interface RenewalPolicy {
  /** Share of the lifetime after which to renew, in (0, 1). */
  renewAt: number;
  /** Share of the lifetime the moment may move by, either way, in [0, 0.25]. */
  jitter: number;
}

export const DEFAULT_POLICY: RenewalPolicy = { renewAt: 2 / 3, jitter: 0.05 };

export const FIRST_RETRY_MS = 1000;
export const MAX_RETRY_MS = 5 * 60_000;

/** Throws a message for a setting out of range (the CLI turns it into a USAGE error). */
export function checkPolicy(p: RenewalPolicy): void {
  if (!(p.renewAt > 0 && p.renewAt < 1)) throw new RangeError(`--renew-at must be between 0 and 1 (a share of the lifetime), not ${p.renewAt}`);
  if (!(p.jitter >= 0 && p.jitter <= 0.25)) throw new RangeError(`--jitter must be between 0 and 0.25, not ${p.jitter}`);
}

/** The instant to renew a certificate valid from notBefore to notAfter; `random` in [0, 1). */
export function renewalTime(notBefore: number, notAfter: number, p: RenewalPolicy, random: number): number {
  const lifetime = Math.max(0, notAfter - notBefore);
  const share = Math.min(0.95, Math.max(0.05, p.renewAt + (random * 2 - 1) * p.jitter));
  return notBefore + lifetime * share;
}

/** The wait after `failures` failed attempts in a row (1 or more), bounded by the time left before notAfter. */
export function retryDelay(failures: number, now: number, notAfter: number): number {
  const doubling = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** Math.min(30, Math.max(0, failures - 1)));
  const left = notAfter - now;
  // Close to expiry, try at least a few more times before it.
  return left > 0 ? Math.max(FIRST_RETRY_MS, Math.min(doubling, left / 4)) : doubling;
}
