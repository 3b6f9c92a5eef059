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
  const nextUpdate = new Date(thisUpdate.getTime() + opts.days * DAY_MS);
  const revoked: { serial: string; revokedAt?: string | undefined; reason?: InventoryEntry['reason'] }[] = [...opts.entries.filter((e) => e.status === 'revoked'), ...(opts.adopted ?? [])];
  const crl = await x509.X509CrlGenerator.create({
    issuer: signer.cert.subjectName,
    thisUpdate,
    nextUpdate,
    signingKey: signer.key,
    signingAlgorithm: signer.algorithm,
    entries: revoked.map((e) => {
      const reason = REVOCATION_REASONS[e.reason ?? 'unspecified'];
      return {
        serialNumber: e.serial,
        revocationDate: new Date(e.revokedAt ?? thisUpdate),
        // RFC 5280: the reasonCode extension is left out rather than set to unspecified.
        ...(reason === 0 ? {} : { reason: reason as x509.X509CrlReason }),
      };
    }),
    extensions: [
      new x509.Extension(id_ce_cRLNumber, false, AsnConvert.serialize(new CRLNumber(opts.crlNumber))),
      await x509.AuthorityKeyIdentifierExtension.create(signer.cert),
    ],
  });
  return { pem: pemEncode(crl.rawData, 'X509 CRL'), thisUpdate, nextUpdate, crlNumber: opts.crlNumber };
}
