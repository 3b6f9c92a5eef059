/**
 * Revocation of a certificate through its chain: a certificate is refused when its own serial or
 * the serial of any CA above it is revoked. A root-signed CRL that lists an intermediate's serial
 * thus ends everything that intermediate issued, at the handshake, at login and in live sessions.
 * Serials are compared without their issuer, as everywhere in pgmoat: they are random (at least
 * 64 bits), so a leaf and a CA of the same deployment do not share one.
 */
import type { Revocation, RevocationCheck } from './source.js';

export interface ChainHolder {
  /** Canonical form (util/serial.ts). */
  readonly serial: string;
  /** The CA certificates above it, issuer first (PeerIdentity.issuerSerials). */
  readonly issuerSerials?: readonly string[] | undefined;
}

/** The revocation that applies to `holder` (its own first), or undefined. */
export function revokedInChain(check: RevocationCheck, holder: ChainHolder): Revocation | undefined {
  const own = check.lookup(holder.serial);
  if (own) return own;
  for (const serial of holder.issuerSerials ?? []) {
    const r = check.lookup(serial);
    if (r) return r;
  }
  return undefined;
}
