/** The inventory as a listing: what each certificate's state is today. */
import { assertCaDir } from './authority.js';
import type { InventoryEntry } from './inventory.js';
import { loadInventory } from './inventory-store.js';
import { sansOfCertificate } from './san.js';
import { isExpiring } from '../util/expiring.js';
import { normalizeSerial } from '../util/serial.js';

export { EXPIRING_RULE_TEXT } from '../util/expiring.js';
const DAY_MS = 86_400_000;

export interface ListedCertificate {
  name: string;
  environment: string;
  kind: 'client' | 'server';
  serial: string;
  /** superseded: still valid, but a newer certificate replaced it (see supersededBy). */
  status: 'valid' | 'superseded' | 'revoked' | 'expired';
  notBefore: string;
  notAfter: string;
  /** Whole days until notAfter (negative once expired). */
  daysLeft: number;
  /** Valid and expiring by the shared rule (util/expiring.ts: 14 days or a third of the lifetime). */
  expiringSoon: boolean;
  fingerprint256: string;
  revokedAt: string | undefined;
  reason: string | undefined;
  /** The serial of the certificate that replaced this one (issue-server, renew), if any. */
  supersededBy: string | undefined;
  /** Every subject alternative name, as OpenSSL prints it (URI:pgmoat://ENV/NAME, DNS:..., URI:spiffe://...). */
  sans: string[];
}

function describeEntry(e: InventoryEntry, now: Date): ListedCertificate {
  const msLeft = new Date(e.notAfter).getTime() - now.getTime();
  const daysLeft = Math.floor(msLeft / DAY_MS);
  const status = e.status === 'revoked' ? 'revoked' : msLeft <= 0 ? 'expired' : e.supersededBy !== undefined ? 'superseded' : 'valid';
  return {
    name: e.name,
    environment: e.environment,
    kind: e.kind,
    serial: normalizeSerial(e.serial),
    status,
    notBefore: e.notBefore,
    notAfter: e.notAfter,
    daysLeft,
    expiringSoon: status === 'valid' && isExpiring(new Date(e.notBefore), new Date(e.notAfter), now.getTime()),
    fingerprint256: e.fingerprint256,
    revokedAt: e.revokedAt,
    reason: e.reason,
    supersededBy: e.supersededBy === undefined ? undefined : normalizeSerial(e.supersededBy),
    sans: sansOfCertificate(e.certificate),
  };
}

export async function listCertificates(dir: string, now = new Date()): Promise<ListedCertificate[]> {
  const inv = await loadInventory(assertCaDir(dir));
  return inv.certificates
    .map((e) => describeEntry(e, now))
    .sort((a, b) => a.kind.localeCompare(b.kind) || a.environment.localeCompare(b.environment) || a.name.localeCompare(b.name) || a.notBefore.localeCompare(b.notBefore));
}
