/**
 * Whether a freshly loaded (and signature-checked) revocation list may replace the one in force:
 * never when, for some issuer, it is older than the newest CRL this gateway has enforced, in
 * this process (the running list's floor) or before a restart (the state file, crl-state.ts).
 * See crl-order.ts for what "older" means. Used at start, at every reload and by the CRL watch.
 */
import * as x509 from '../ca/x509.js';
import { pemBlocks } from '@pgmoat/client/internal';
import { PgmoatError, isPgmoatError } from '../util/errors.js';
import { findRegression, issuerKey, mergeFloors, raiseFloor, type CrlMark, type CrlRegression } from './crl-order.js';
import { readCrlState } from './crl-state.js';
import type { RevocationList } from './revocation-list.js';

export interface CrlAdmission {
  crlPath: string;
  /** undefined: no state file (the floor lives in memory only). */
  statePath: string | undefined;
  /** The client CA bundle the CRL was verified against. */
  caPem: string;
  /** The running list (reload, CRL watch); undefined at start. */
  inForce?: RevocationList | undefined;
}

/** A CRL refused for going backwards: `code` CRL_ROLLBACK, `fields` for the log line. */
export class CrlRollbackError extends PgmoatError {
  constructor(
    message: string,
    readonly regression: CrlRegression,
    readonly fields: Record<string, unknown>,
  ) {
    super('CRL_ROLLBACK', message);
  }
}

function sameMark(a: CrlMark, b: CrlMark): boolean {
  return issuerKey(a) === issuerKey(b) && a.crlNumber === b.crlNumber && a.digest === b.digest;
}

function describeMark(m: CrlMark): string {
  return `${m.crlNumber !== undefined ? `CRL number ${m.crlNumber}` : 'no CRL number'}, thisUpdate ${m.thisUpdate.toISOString()}`;
}

const FIX = 'Put the newest CRL back, or re-sign one with: pgmoat crl --dir <CA dir> (it gets the next CRL number)';

function rollback(r: CrlRegression, a: CrlAdmission, recorded: boolean): CrlRollbackError {
  const where = recorded ? `recorded in ${a.statePath}` : a.statePath ? `held in memory: ${a.statePath} could not be written` : 'held in memory';
  const inForce = `the newest enforced (${where}) has ${describeMark(r.inForce)}`;
  const issuer = `"${r.inForce.issuer}"`;
  let message: string;
  if (r.order === 'issuer-missing') {
    message = `${a.crlPath} holds no CRL from ${issuer}, whose CA is still in tls.ca and whose CRL was enforced (${describeMark(r.inForce)}, ${where}). Dropping it would un-revoke that CA's certificates, so the file is refused and the list in force stays. Put that CRL back in the file, or take the CA out of tls.ca`;
  } else if (r.order === 'conflict') {
    message = `${a.crlPath}: the CRL from ${issuer} has ${describeMark(r.offered!)}, like the one in force, but different contents (${where}); a CA issues one list per number, so it is refused and the list in force stays. ${FIX}`;
  } else {
    message = `${a.crlPath} is older than the CRL in force for ${issuer}: it has ${describeMark(r.offered!)}, ${inForce}. Loading it would un-revoke certificates, so it is refused and the list in force stays. ${FIX}`;
  }
  return new CrlRollbackError(message, r, {
    reason_code: r.order,
    issuer: r.inForce.issuer,
    crl_number_in_force: r.inForce.crlNumber?.toString(),
    crl_number_offered: r.offered?.crlNumber?.toString(),
    this_update_in_force: r.inForce.thisUpdate.toISOString(),
    this_update_offered: r.offered?.thisUpdate.toISOString(),
    state_file: a.statePath,
  });
}

/** Whether the CA that issued the CRLs of `mark` is in the bundle (by name, and key id when both have one). */
function trustedBy(caPem: string): (mark: CrlMark) => boolean {
  const cas = pemBlocks(caPem)
    .filter((b) => b.label === 'CERTIFICATE')
    .map((b) => new x509.X509Certificate(b.der));
  return (mark) =>
    cas.some((ca) => {
      if (ca.subject !== mark.issuer) return false;
      const ski = ca.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId?.toLowerCase();
      return mark.authorityKeyId === undefined || ski === undefined || ski === mark.authorityKeyId;
    });
}

/**
 * `list` with its floor raised over everything enforced before. Throws CrlRollbackError when it
 * goes backwards, and CRL_STATE_INVALID when the state file cannot be read at start. With a
 * running list, an unreadable state file is passed over: that list's floor is never lower than
 * the file's was at start, and the next write (CrlFileSource) replaces the file and says so.
 */
export function admitRevocationList(list: RevocationList, a: CrlAdmission): RevocationList {
  let persisted: CrlMark[] = [];
  if (a.statePath) {
    try {
      persisted = readCrlState(a.statePath);
    } catch (err) {
      if (!a.inForce || !isPgmoatError(err)) throw err;
    }
  }
  const floor = mergeFloors(persisted, a.inForce?.floor ?? []);
  const regression = findRegression(list.crls, floor, trustedBy(a.caPem));
  if (regression) throw rollback(regression, a, persisted.some((m) => sameMark(m, regression.inForce)));
  return { ...list, floor: raiseFloor(floor, list.crls) };
}
