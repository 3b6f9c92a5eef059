/**
 * The certificate revocation list: every revoked certificate in the inventory, signed by the CA,
 * with a CRL Number and a nextUpdate. Written with the PEM label "X509 CRL" (what OpenSSL and
 * Node read; @peculiar/x509's own PEM says "CRL").
 */
import { AsnConvert } from '@peculiar/asn1-schema';
import { CRLNumber, id_ce_cRLNumber } from '@peculiar/asn1-x509';
import * as x509 from './x509.js';
import type { Signer } from './certificate-profiles.js';
import { REVOCATION_REASONS } from './inputs.js';
import type { AdoptedRevocation, InventoryEntry } from './inventory.js';
import { pemEncode } from './pem.js';

export const DEFAULT_CRL_DAYS = 7;
const DAY_MS = 86_400_000;

export interface BuiltCrl {
  pem: string;
  thisUpdate: Date;
  nextUpdate: Date;
  crlNumber: number;
}

export async function buildCrl(
  signer: Signer,
  opts: { entries: readonly InventoryEntry[]; adopted?: readonly AdoptedRevocation[] | undefined; crlNumber: number; days: number; now?: Date },
): Promise<BuiltCrl> {
  const thisUpdate = opts.now ?? new Date();
  const revoked = [...opts.entries.filter((e) => e.status === 'revoked'), ...(opts.adopted ?? [])].map((e) => ({
    serial: e.serial,
    revokedAt: new Date(e.revokedAt ?? thisUpdate),
    reason: REVOCATION_REASONS[e.reason ?? 'unspecified'] as number,
  }));
  return signCrl(signer, { revoked, crlNumber: opts.crlNumber, days: opts.days, now: thisUpdate });
}

/** A CRL of `revoked` (reason as its RFC 5280 code) signed by `signer`: leaves, or (the root's) intermediates. */
export async function signCrl(
  signer: Signer,
  opts: { revoked: readonly { serial: string; revokedAt: Date; reason: number }[]; crlNumber: number; days: number; now: Date },
): Promise<BuiltCrl> {
  const thisUpdate = opts.now;
  const nextUpdate = new Date(thisUpdate.getTime() + opts.days * DAY_MS);
  const crl = await x509.X509CrlGenerator.create({
    issuer: signer.cert.subjectName,
    thisUpdate,
    nextUpdate,
    signingKey: signer.key,
    signingAlgorithm: signer.algorithm,
    entries: opts.revoked.map((e) => ({
      serialNumber: e.serial,
      revocationDate: e.revokedAt,
      // RFC 5280: the reasonCode extension is left out rather than set to unspecified.
      ...(e.reason === 0 ? {} : { reason: e.reason as x509.X509CrlReason }),
    })),
    extensions: [
      new x509.Extension(id_ce_cRLNumber, false, AsnConvert.serialize(new CRLNumber(opts.crlNumber))),
      await x509.AuthorityKeyIdentifierExtension.create(signer.cert),
    ],
  });
  return { pem: pemEncode(crl.rawData, 'X509 CRL'), thisUpdate, nextUpdate, crlNumber: opts.crlNumber };
}
