/** The inventory as a listing: what each certificate's state is today. */
import { assertCaDir } from './authority.js';
import { readInventory, type InventoryEntry } from './inventory.js';
import { sansOfCertificate } from './san.js';

export const EXPIRING_SOON_DAYS = 14;
const DAY_MS = 86_400_000;

export interface ListedCertificate {
  name: string;
  environment: string;
  kind: 'client' | 'server';
  serial: string;
  status: 'valid' | 'revoked' | 'expired';
  notBefore: string;
  notAfter: string;
  /** Whole days until notAfter (negative once expired). */
  daysLeft: number;
  /** Valid and expiring within EXPIRING_SOON_DAYS. */
  expiringSoon: boolean;
  fingerprint256: string;
  revokedAt: string | undefined;
  reason: string | undefined;
  /** Every subject alternative name, as OpenSSL prints it (URI:pgmoat://ENV/NAME, DNS:..., URI:spiffe://...). */
  sans: string[];
}

function describeEntry(e: InventoryEntry, now: Date): ListedCertificate {
  const msLeft = new Date(e.notAfter).getTime() - now.getTime();
  const daysLeft = Math.floor(msLeft / DAY_MS);
  const status = e.status === 'revoked' ? 'revoked' : msLeft <= 0 ? 'expired' : 'valid';
  return {
    name: e.name,
    environment: e.environment,
    kind: e.kind,
    serial: e.serial,
    status,
    notBefore: e.notBefore,
    notAfter: e.notAfter,
    daysLeft,
    expiringSoon: status === 'valid' && msLeft <= EXPIRING_SOON_DAYS * DAY_MS,
    fingerprint256: e.fingerprint256,
    revokedAt: e.revokedAt,
    reason: e.reason,
    sans: sansOfCertificate(e.certificate),
  };
}

export function listCertificates(dir: string, now = new Date()): ListedCertificate[] {
  const inv = readInventory(assertCaDir(dir));
  return inv.certificates
    .map((e) => describeEntry(e, now))
    .sort((a, b) => a.kind.localeCompare(b.kind) || a.environment.localeCompare(b.environment) || a.name.localeCompare(b.name) || a.notBefore.localeCompare(b.notBefore));
}
