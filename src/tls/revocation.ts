/**
 * Revocation by serial, checked by pgmoat itself on every connection (resumed or not).
 *
 * pgmoat does not hand the CRL to OpenSSL: with a CRL in the secure context OpenSSL refuses
 * every client once the CRL passes its nextUpdate (CRL_HAS_EXPIRED), the "connections suddenly
 * stop" failure. Instead pgmoat verifies the CRL's signature against the client CA bundle when
 * it loads it, and keeps refusing every serial it lists; a CRL past nextUpdate stays enforced,
 * is reported as stale (log and metrics), and never locks everyone out.
 */
import * as x509 from '../ca/x509.js';
import { pemBlocks } from '../ca/pem.js';
import { PgmoatError } from '../util/errors.js';

export interface RevocationList {
  /** Revoked serials, normalised by normalizeSerial. */
  readonly revoked: ReadonlySet<string>;
  readonly thisUpdate: Date | undefined;
  readonly nextUpdate: Date | undefined;
  /** Number of CRLs read (one per issuing CA). */
  readonly crlCount: number;
}

export const EMPTY_REVOCATION_LIST: RevocationList = {
  revoked: new Set(),
  thisUpdate: undefined,
  nextUpdate: undefined,
  crlCount: 0,
};

/** Lowercase hex without leading zeros: Node writes uppercase with padding, x509 libraries vary. */
export function normalizeSerial(hex: string): string {
  const s = hex.replace(/[^0-9a-fA-F]/g, '').toLowerCase().replace(/^0+/, '');
  return s === '' ? '0' : s;
}

/**
 * Parses every CRL in `pemText` and verifies each against the CA that issued it (found in
 * `caPemText` by subject name). A CRL no CA in the bundle signed is an error: trusting an
 * unsigned list would let anyone un-revoke by editing a file.
 */
export async function loadRevocationList(pemText: string, caPemText: string, crlPath = 'CRL'): Promise<RevocationList> {
  const cas = pemBlocks(caPemText)
    .filter((b) => b.label === 'CERTIFICATE')
    .map((b) => new x509.X509Certificate(b.der));
  const crlBlocks = pemBlocks(pemText).filter((b) => b.label === 'X509 CRL' || b.label === 'CRL');
  if (crlBlocks.length === 0) {
    throw new PgmoatError('CRL_INVALID', `${crlPath} holds no PEM "X509 CRL" block; regenerate it with: pgmoat crl --dir <CA dir>`);
  }
  const revoked = new Set<string>();
  let thisUpdate: Date | undefined;
  let nextUpdate: Date | undefined;
  for (const block of crlBlocks) {
    let crl: x509.X509Crl;
    try {
      crl = new x509.X509Crl(block.der);
    } catch (err) {
      throw new PgmoatError('CRL_INVALID', `${crlPath} is not a valid CRL`, { cause: err });
    }
    const issuers = cas.filter((ca) => ca.subject === crl.issuer);
    let verified = false;
    for (const ca of issuers) {
      if (await crl.verify({ publicKey: ca.publicKey })) {
        verified = true;
        break;
      }
    }
    if (!verified) {
      throw new PgmoatError(
        'CRL_UNTRUSTED',
        `${crlPath}: the CRL issued by "${crl.issuer}" is not signed by any CA in the client CA bundle`,
      );
    }
    for (const entry of crl.entries) revoked.add(normalizeSerial(entry.serialNumber));
    // With several CRLs the oldest thisUpdate and the earliest nextUpdate describe the whole set.
    if (!thisUpdate || crl.thisUpdate < thisUpdate) thisUpdate = crl.thisUpdate;
    if (crl.nextUpdate && (!nextUpdate || crl.nextUpdate < nextUpdate)) nextUpdate = crl.nextUpdate;
  }
  return { revoked, thisUpdate, nextUpdate, crlCount: crlBlocks.length };
}

export function isRevoked(list: RevocationList, serialHex: string): boolean {
  return list.revoked.size > 0 && list.revoked.has(normalizeSerial(serialHex));
}

export function isStale(list: RevocationList, now = Date.now()): boolean {
  return list.nextUpdate !== undefined && list.nextUpdate.getTime() < now;
}
