/**
 * A CRL file read and verified: the revoked serials (with date and reason), thisUpdate and
 * nextUpdate, and each CRL's place in its issuer's sequence. pgmoat checks the serials itself on
 * every connection, resumed or not (revocation/revocations.ts).
 *
 * pgmoat does not hand the CRL to OpenSSL: with a CRL in the secure context OpenSSL refuses
 * every client once the CRL passes its nextUpdate (CRL_HAS_EXPIRED), the "connections suddenly
 * stop" failure. Instead pgmoat verifies the CRL's signature against the client CA bundle when
 * it loads it, and keeps refusing every serial it lists; a CRL past nextUpdate stays enforced,
 * is reported as stale (log and metrics), and never locks everyone out.
 */
import { createHash } from 'node:crypto';
import * as x509 from '../ca/x509.js';
import { pemBlocks } from '@pgmoat/client/internal';
import { PgmoatError } from '../util/errors.js';
import { normalizeSerial } from '../util/serial.js';
import { DerError, TAG, expectTlv, unsignedInteger } from './der.js';
import type { CrlMark } from './crl-order.js';
import type { Revocation, RevocationReason } from './source.js';

export interface RevocationList {
  /** Revoked certificates by serial, in the canonical form (util/serial.ts). */
  readonly revoked: ReadonlyMap<string, Revocation>;
  readonly thisUpdate: Date | undefined;
  readonly nextUpdate: Date | undefined;
  /** Number of CRLs read (one per issuing CA). */
  readonly crlCount: number;
  /** One mark per CRL read: issuer, CRL number, thisUpdate (crl-order.ts). */
  readonly crls: readonly CrlMark[];
  /**
   * The newest CRL enforced so far per issuer, these included (what the next CRL must not go
   * below). loadRevocationList sets it to `crls`; admitRevocationList raises the running one.
   */
  readonly floor: readonly CrlMark[];
}

export const EMPTY_REVOCATION_LIST: RevocationList = {
  revoked: new Map(),
  thisUpdate: undefined,
  nextUpdate: undefined,
  crlCount: 0,
  crls: [],
  floor: [],
};

const OID_CRL_NUMBER = '2.5.29.20';

/** RFC 5280 5.3.1 CRLReason values (7 is not used). */
const REASON_NAMES: Readonly<Record<number, RevocationReason>> = {
  0: 'unspecified',
  1: 'keyCompromise',
  2: 'cACompromise',
  3: 'affiliationChanged',
  4: 'superseded',
  5: 'cessationOfOperation',
  6: 'certificateHold',
  8: 'removeFromCRL',
  9: 'privilegeWithdrawn',
  10: 'aACompromise',
};

const REASONS = new Set<string>(Object.values(REASON_NAMES));

/** Whether `name` is an RFC 5280 reason name as pgmoat writes them (a CRL's, the CA store's). */
export function isRevocationReason(name: unknown): name is RevocationReason {
  return typeof name === 'string' && REASONS.has(name);
}

/** What a CRL says of its place in its issuer's sequence. Throws DerError on a malformed CRL Number. */
function markOf(crl: x509.X509Crl, der: Uint8Array): CrlMark {
  const list = expectTlv(der, 0, TAG.SEQUENCE);
  const tbs = expectTlv(der, list.valueStart, TAG.SEQUENCE, list.end);
  const numberExt = crl.getExtension(OID_CRL_NUMBER);
  let crlNumber: bigint | undefined;
  if (numberExt) {
    const value = new Uint8Array(numberExt.value);
    const int = expectTlv(value, 0, TAG.INTEGER);
    if (int.end !== value.length) throw new DerError('trailing bytes after the CRL Number');
    crlNumber = unsignedInteger(value.subarray(int.valueStart, int.end));
  }
  const aki = crl.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId?.toLowerCase();
  return {
    issuer: crl.issuer,
    authorityKeyId: aki || undefined,
    crlNumber,
    thisUpdate: crl.thisUpdate,
    digest: createHash('sha256').update(der.subarray(tbs.start, tbs.end)).digest('hex'),
  };
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
  // A block cut short (no END line) is not matched at all: of several CRLs, one would vanish.
  const begun = pemText.match(/-----BEGIN (X509 )?CRL-----/g)?.length ?? 0;
  if (begun !== crlBlocks.length) {
    throw new PgmoatError('CRL_INVALID', `${crlPath} holds ${begun} CRL headers but ${crlBlocks.length} whole CRL blocks: it is truncated or damaged`);
  }
  const revoked = new Map<string, Revocation>();
  const crls: CrlMark[] = [];
  let thisUpdate: Date | undefined;
  let nextUpdate: Date | undefined;
  for (const block of crlBlocks) {
    let crl: x509.X509Crl;
    let mark: CrlMark;
    try {
      crl = new x509.X509Crl(block.der);
      mark = markOf(crl, block.der);
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
    crls.push(mark);
    for (const entry of crl.entries) {
      const serial = normalizeSerial(entry.serialNumber);
      const reason = entry.reason;
      revoked.set(serial, { serial, revokedAt: entry.revocationDate, reason: reason === undefined ? undefined : REASON_NAMES[reason] });
    }
    // With several CRLs the oldest thisUpdate and the earliest nextUpdate describe the whole set.
    if (!thisUpdate || crl.thisUpdate < thisUpdate) thisUpdate = crl.thisUpdate;
    if (crl.nextUpdate && (!nextUpdate || crl.nextUpdate < nextUpdate)) nextUpdate = crl.nextUpdate;
  }
  return { revoked, thisUpdate, nextUpdate, crlCount: crlBlocks.length, crls, floor: crls };
}

export function isStale(list: RevocationList, now = Date.now()): boolean {
  return list.nextUpdate !== undefined && list.nextUpdate.getTime() < now;
}
