/**
 * The identity inventory: every certificate the CA has issued, with its status. Stored as
 * versioned JSON in DIR/inventory.json; replaced atomically, and only under the CA lock
 * (see ca-lock.ts). The CA keeps certificates, never client private keys.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { unreadableFile } from '../util/file-problem.js';
import { PgmoatError } from '../util/errors.js';
import { caPath } from './ca-layout.js';
import { fingerprint256, randomSerial } from './certificate-profiles.js';
import { REVOCATION_REASONS, type RevocationReason } from './inputs.js';

const reasonNames = Object.keys(REVOCATION_REASONS) as [RevocationReason, ...RevocationReason[]];

const entrySchema = z.object({
  name: z.string().min(1),
  /** Empty for the gateway's server certificates. */
  environment: z.string(),
  kind: z.enum(['client', 'server']),
  serial: z.string().regex(/^[0-9a-f]+$/),
  status: z.enum(['valid', 'revoked']),
  notBefore: z.iso.datetime(),
  notAfter: z.iso.datetime(),
  fingerprint256: z.string(),
  revokedAt: z.iso.datetime().optional(),
  reason: z.enum(reasonNames).optional(),
  /**
   * The serial of the certificate that replaced this one (issue-server, renew, a renewal through
   * the service), and when. The entry stays, and stays valid (it still verifies, and revoke by
   * name still reaches it): `pgmoat list` shows it as superseded.
   */
  supersededBy: z.string().regex(/^[0-9a-f]+$/).optional(),
  supersededAt: z.iso.datetime().optional(),
  certificate: z.string().includes('-----BEGIN CERTIFICATE-----'),
});

/**
 * A revocation carried over from the CRL of a CA that `pgmoat ca adopt` took in, whose certificate
 * the inventory does not hold: it stays on every CRL pgmoat signs, so adopting never un-revokes.
 */
const adoptedRevocationSchema = z.object({
  serial: z.string().regex(/^[0-9a-f]+$/),
  revokedAt: z.iso.datetime(),
  reason: z.enum(reasonNames).optional(),
});

const inventorySchema = z.object({
  version: z.literal(1),
  /** Number of the last CRL written; the next one gets crlNumber + 1. */
  crlNumber: z.number().int().nonnegative(),
  /** Lifetime of CRLs (nextUpdate - thisUpdate), changed by --crl-days. */
  crlDays: z.number().int().positive(),
  certificates: z.array(entrySchema),
  adoptedRevocations: z.array(adoptedRevocationSchema).optional(),
});

export type InventoryEntry = z.infer<typeof entrySchema>;
export type Inventory = z.infer<typeof inventorySchema>;
export type AdoptedRevocation = z.infer<typeof adoptedRevocationSchema>;

export function emptyInventory(crlDays: number): Inventory {
  return { version: 1, crlNumber: 0, crlDays, certificates: [] };
}

/** The entry for a certificate just signed: valid until it is revoked. */
export function issuedEntry(e: {
  kind: InventoryEntry['kind'];
  name: string;
  environment: string;
  serial: string;
  notBefore: Date;
  notAfter: Date;
  certPem: string;
}): InventoryEntry {
  return {
    name: e.name,
    environment: e.environment,
    kind: e.kind,
    serial: e.serial,
    status: 'valid',
    notBefore: e.notBefore.toISOString(),
    notAfter: e.notAfter.toISOString(),
    fingerprint256: fingerprint256(e.certPem),
    certificate: e.certPem,
  };
}

/**
 * Records that `serial` replaces these entries. An entry already superseded keeps the serial that
 * first replaced it; entries are never removed.
 */
export function markSuperseded(entries: Iterable<InventoryEntry>, serial: string, now: Date): void {
  for (const e of entries) {
    if (e.serial === serial || e.supersededBy !== undefined) continue;
    e.supersededBy = serial;
    e.supersededAt = now.toISOString();
  }
}

/** A random serial no certificate of the inventory has. */
export function unusedSerial(inv: Inventory): string {
  let serial = randomSerial();
  while (inv.certificates.some((e) => e.serial === serial)) serial = randomSerial();
  return serial;
}

export function serializeInventory(inv: Inventory): string {
  return JSON.stringify(inv, null, 2) + '\n';
}

export function parseInventory(text: string, path: string): Inventory {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new PgmoatError('INVENTORY_CORRUPT', `inventory ${path} is not valid JSON; restore it from a backup`, { cause: err });
  }
  if (typeof raw === 'object' && raw !== null && 'version' in raw && raw.version !== 1) {
    throw new PgmoatError('INVENTORY_VERSION', `inventory ${path} has version ${String(raw.version)}, this pgmoat reads version 1; upgrade pgmoat`);
  }
  const parsed = inventorySchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue ? issue.path.join('.') : '';
    throw new PgmoatError('INVENTORY_CORRUPT', `inventory ${path} is damaged (${where || 'top level'}: ${issue?.message ?? 'invalid'}); restore it from a backup`);
  }
  return parsed.data;
}

export function readInventory(dir: string): Inventory {
  const path = caPath(dir, 'inventory');
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new PgmoatError('NOT_A_CA', `${dir} is not a pgmoat CA directory (no inventory.json); create one with: pgmoat init --dir ${dir}`, { cause: err });
    }
    throw unreadableFile('inventory', path, err);
  }
  return parseInventory(text, path);
}
