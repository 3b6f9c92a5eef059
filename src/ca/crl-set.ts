/**
 * What crl.pem holds: one CRL per issuing CA that still has certificates in force. A one-level CA
 * and a two-level CA that never rotated write one CRL, as always. After a rotation each retired
 * intermediate (not revoked) signs a CRL of the revoked certificates it issued, since only its
 * signature can revoke them; and once the root has revoked an intermediate, the root's CRL
 * (root-crl.pem, signed only when the root key is brought back) is carried along verbatim. Every
 * CRL written at once gets the same CRL number, the CA's single counter, so each issuer's numbers
 * only grow.
 */
import * as x509 from './x509.js';
import type { CertificateAuthority } from './authority.js';
import { buildCrl, type BuiltCrl } from './crl.js';
import type { AdoptedRevocation, InventoryEntry } from './inventory.js';

export interface BuiltCrlFile {
  /** The current issuer's CRL (what commands report). */
  main: BuiltCrl;
  /** The whole file: the current issuer's CRL, the retired intermediates', the root's. */
  pem: string;
}

function keyIdOf(cert: x509.X509Certificate): string | undefined {
  return cert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId?.toLowerCase();
}

/** Which retired intermediate issued `entry` (by authority key identifier); undefined: the current one. */
function issuerIndex(entry: InventoryEntry, retiredKeyIds: readonly (string | undefined)[]): number | undefined {
  let aki: string | undefined;
  try {
    const cert = new x509.X509Certificate(entry.certificate);
    aki = cert.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId?.toLowerCase();
  } catch {
    return undefined;
  }
  if (aki === undefined) return undefined;
  const i = retiredKeyIds.indexOf(aki);
  return i < 0 ? undefined : i;
}

export async function buildCrlFile(
  ca: CertificateAuthority,
  opts: { entries: readonly InventoryEntry[]; adopted?: readonly AdoptedRevocation[] | undefined; crlNumber: number; days: number; now: Date; rootCrlPem: string | undefined },
): Promise<BuiltCrlFile> {
  const live = ca.retired.filter((r) => r.signer !== undefined);
  const revoked = opts.entries.filter((e) => e.status === 'revoked');
  const current: InventoryEntry[] = [];
  const byRetired: InventoryEntry[][] = live.map(() => []);
  if (live.length === 0) current.push(...revoked);
  else {
    const keyIds = live.map((r) => keyIdOf(r.cert));
    for (const e of revoked) {
      const i = issuerIndex(e, keyIds);
      (i === undefined ? current : byRetired[i]!).push(e);
    }
  }
  const base = { crlNumber: opts.crlNumber, days: opts.days, now: opts.now };
  // Revocations carried over by `pgmoat ca adopt` name no issuer: every CRL lists them, so that
  // none is lost after a rotation (a serial another issuer never used revokes nothing of its own).
  const main = await buildCrl(ca, { ...base, entries: current, adopted: opts.adopted });
  const parts = [main.pem];
  for (const [i, r] of live.entries()) parts.push((await buildCrl(r.signer!, { ...base, entries: byRetired[i]!, adopted: opts.adopted })).pem);
  if (opts.rootCrlPem !== undefined) parts.push(opts.rootCrlPem.endsWith('\n') ? opts.rootCrlPem : `${opts.rootCrlPem}\n`);
  return { main, pem: parts.join('') };
}
