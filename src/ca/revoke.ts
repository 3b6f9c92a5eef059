/** Revoking certificates and re-signing the CRL. */
import { PgmoatError } from '../util/errors.js';
import { normalizeSerial, parseSerial } from '../util/serial.js';
import type { CertificateAuthority } from './authority.js';
import { caPath } from './ca-layout.js';
import { withCaTransaction } from './ca-transaction.js';
import type { BuiltCrl } from './crl.js';
import { quote, validateIdentityPart } from './identity-format.js';
import { parseDays, type RevocationReason } from './inputs.js';
import type { Inventory, InventoryEntry } from './inventory.js';

export interface RevokeOptions {
  /** A client name (all its valid certificates in the environment) or a serial (hex, colons allowed). */
  target: string;
  environment?: string;
  reason?: RevocationReason;
  crlDays?: number;
}

export interface RevokeResult {
  revoked: InventoryEntry[];
  crl: BuiltCrl;
  crlPath: string;
}

function findTargets(inv: Inventory, opts: RevokeOptions): InventoryEntry[] {
  const serial = parseSerial(opts.target);
  const bySerial = serial === undefined ? undefined : inv.certificates.find((e) => normalizeSerial(e.serial) === serial);
  if (bySerial) {
    if (opts.environment !== undefined && bySerial.environment !== opts.environment) {
      throw new PgmoatError('UNKNOWN_IDENTITY', `certificate ${bySerial.serial} belongs to environment ${quote(bySerial.environment)}, not ${quote(opts.environment)}`);
    }
    if (bySerial.status === 'revoked') {
      throw new PgmoatError('ALREADY_REVOKED', `certificate ${bySerial.serial} (${quote(bySerial.name)}) is already revoked`);
    }
    return [bySerial];
  }
  validateIdentityPart('name', opts.target);
  let named = inv.certificates.filter((e) => e.kind === 'client' && e.name === opts.target);
  if (opts.environment !== undefined) named = named.filter((e) => e.environment === opts.environment);
  if (named.length === 0) {
    const where = opts.environment === undefined ? '' : ` in ${quote(opts.environment)}`;
    throw new PgmoatError('UNKNOWN_IDENTITY', `no certificate named ${quote(opts.target)}${where} and no such serial; see pgmoat list`);
  }
  const environments = [...new Set(named.map((e) => e.environment))];
  if (environments.length > 1) {
    throw new PgmoatError('AMBIGUOUS_IDENTITY', `${quote(opts.target)} exists in several environments (${environments.join(', ')}); pass --env`);
  }
  const valid = named.filter((e) => e.status === 'valid');
  if (valid.length === 0) {
    throw new PgmoatError('ALREADY_REVOKED', `every certificate of ${quote(opts.target)} in ${quote(environments[0] ?? '')} is already revoked`);
  }
  return valid;
}

export async function revoke(ca: CertificateAuthority, opts: RevokeOptions): Promise<RevokeResult> {
  if (opts.environment !== undefined) validateIdentityPart('environment', opts.environment);
  const crlDays = opts.crlDays === undefined ? undefined : parseDays(opts.crlDays, '--crl-days');
  const { value, crl } = await withCaTransaction(ca, async (tx) => {
    const targets = findTargets(tx.inventory, opts);
    for (const e of targets) {
      e.status = 'revoked';
      e.revokedAt = tx.now.toISOString();
      e.reason = opts.reason ?? 'unspecified';
    }
    tx.rewriteCrl(crlDays);
    return targets.map((e) => ({ ...e }));
  });
  return { revoked: value, crl: crl!, crlPath: caPath(ca.dir, 'crl') };
}

/** Re-signs crl.pem with a fresh thisUpdate/nextUpdate (run it from cron well before nextUpdate). */
export async function writeCrl(
  ca: CertificateAuthority,
  opts: { crlDays?: number; signRoot?: ((crlNumber: number, now: Date) => Promise<string>) | undefined } = {},
): Promise<{ crl: BuiltCrl; crlPath: string }> {
  const crlDays = opts.crlDays === undefined ? undefined : parseDays(opts.crlDays, '--crl-days');
  const { crl } = await withCaTransaction(ca, async (tx) => {
    tx.rewriteCrl(crlDays);
    // With the root key at hand (pgmoat crl --root-key), the root's CRL gets a fresh nextUpdate too.
    if (opts.signRoot) tx.rewriteRootCrl(opts.signRoot);
  });
  return { crl: crl!, crlPath: caPath(ca.dir, 'crl') };
}
