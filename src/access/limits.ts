/**
 * Abuse resistance: a handshake rate limit (global and per source address), checked when a
 * TCP connection is accepted, before any TLS work; and caps on concurrent connections per
 * certificate identity and per source address, checked at login. What is refused is counted.
 * `0` turns a limit off.
 */
import type { LimitsConfig } from '../config/schema.js';
import { identityName } from '../tls/peer-identity.js';

export interface LimitCounters {
  /** Connections closed at accept because the global handshake rate was exceeded. */
  handshakesRateLimited: number;
  /** ... because one source address exceeded its own handshake rate. */
  handshakesRateLimitedPerAddress: number;
  /** Logins refused by connections_per_identity. */
  identityCapRefused: number;
  /** Logins refused by connections_per_address. */
  addressCapRefused: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/** A token bucket holding at most one second's worth of handshakes. */
function take(b: Bucket, rate: number, now: number, consume: boolean): boolean {
  const tokens = Math.min(rate, b.tokens + ((now - b.at) / 1000) * rate);
  if (tokens < 1) return false;
  if (consume) {
    b.tokens = tokens - 1;
    b.at = now;
  }
  return true;
}

export type RateVerdict = 'ok' | 'global' | 'address';

export class HandshakeRateLimiter {
  private readonly global: Bucket = { tokens: Number.POSITIVE_INFINITY, at: 0 };
  private readonly perAddress = new Map<string, Bucket>();

  /** Takes one handshake from the budgets; says which budget was exhausted, if any. */
  admit(address: string, limits: LimitsConfig, now = Date.now()): RateVerdict {
    const g = limits.handshakes_per_second;
    const a = limits.handshakes_per_second_per_address;
    let bucket: Bucket | undefined;
    if (a > 0) {
      bucket = this.perAddress.get(address);
      if (!bucket) {
        bucket = { tokens: a, at: now };
        this.perAddress.set(address, bucket);
      }
      if (!take(bucket, a, now, false)) return 'address';
    }
    if (g > 0 && !take(this.global, g, now, true)) return 'global';
    if (bucket) take(bucket, a, now, true);
    return 'ok';
  }

  /** Forgets addresses whose bucket has refilled (janitor). */
  prune(limits: LimitsConfig, now = Date.now()): void {
    const a = limits.handshakes_per_second_per_address;
    for (const [address, b] of this.perAddress) {
      if (a === 0 || b.tokens + ((now - b.at) / 1000) * a >= a) this.perAddress.delete(address);
    }
  }

  get trackedAddresses(): number {
    return this.perAddress.size;
  }
}

/** A slot held by one login, from admission to the end of its session. release() is idempotent. */
export interface Lease {
  release(): void;
}

export type CapVerdict = { ok: true; lease: Lease } | { ok: false; limit: 'identity' | 'address'; max: number };

function bump(map: Map<string, number>, key: string, by: number): void {
  const n = (map.get(key) ?? 0) + by;
  if (n <= 0) map.delete(key);
  else map.set(key, n);
}

/**
 * Counts logins in progress and sessions, per identity (CN and environment) and per address.
 * A login holds its lease from admission (before any password exchange or upstream work) until
 * its session ends, so a flood of slow logins cannot slip past the cap.
 */
export class ConnectionCaps {
  private readonly byIdentity = new Map<string, number>();
  private readonly byAddress = new Map<string, number>();

  static identityKey(identity: (Parameters<typeof identityName>[0] & { environment: string | undefined }) | undefined): string | undefined {
    // identityName: a certificate without CN is counted by its first SAN, not lumped with the others.
    return identity ? `${identity.environment ?? ''}\0${identityName(identity)}` : undefined;
  }

  tryAcquire(identityKey: string | undefined, address: string, limits: LimitsConfig): CapVerdict {
    const perIdentity = limits.connections_per_identity;
    const perAddress = limits.connections_per_address;
    if (identityKey !== undefined && perIdentity > 0 && (this.byIdentity.get(identityKey) ?? 0) >= perIdentity) {
      return { ok: false, limit: 'identity', max: perIdentity };
    }
    if (perAddress > 0 && (this.byAddress.get(address) ?? 0) >= perAddress) return { ok: false, limit: 'address', max: perAddress };
    if (identityKey !== undefined) bump(this.byIdentity, identityKey, 1);
    bump(this.byAddress, address, 1);
    let held = true;
    return {
      ok: true,
      lease: {
        release: () => {
          if (!held) return;
          held = false;
          if (identityKey !== undefined) bump(this.byIdentity, identityKey, -1);
          bump(this.byAddress, address, -1);
        },
      },
    };
  }

  countFor(identityKey: string | undefined, address: string): { identity: number; address: number } {
    return { identity: identityKey === undefined ? 0 : this.byIdentity.get(identityKey) ?? 0, address: this.byAddress.get(address) ?? 0 };
  }
}
