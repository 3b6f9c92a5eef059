/**
 * A CRL never moves backwards. Each CRL a gateway enforces leaves a mark for its issuer (issuer
 * name + authority key identifier): its CRL number (RFC 5280 5.2.3, a number that only grows for
 * one issuer), its thisUpdate and a digest of its contents. A later CRL from the same issuer is
 * compared with that mark:
 *
 * - both numbered: a lower number is older; a higher number is newer unless its thisUpdate is
 *   earlier (a CA clock going back, or a forged sequence: refused either way);
 * - either one without a CRL number: thisUpdate alone decides, earlier is older;
 * - same number (or, unnumbered, same thisUpdate): the same contents (tbsCertList digest; a
 *   re-signature of the same list is the same list) are the same CRL; different contents are a
 *   conflict and refused, since a CA issues one list per number and pgmoat cannot tell which of
 *   the two is the real one. Re-signing with the CA bumps the number and ends the conflict.
 *
 * An issuer that has a mark and whose CA is still trusted must keep a CRL in the file: a file
 * that drops it (a truncated bundle, one CRL of several) would un-revoke its certificates.
 */

export interface CrlMark {
  /** Issuer distinguished name, as @peculiar/x509 prints it. */
  readonly issuer: string;
  /** Authority key identifier, lowercase hex; undefined when the CRL has none. */
  readonly authorityKeyId: string | undefined;
  /** CRL number; undefined when the CRL has none. */
  readonly crlNumber: bigint | undefined;
  readonly thisUpdate: Date;
  /** SHA-256 (hex) of the tbsCertList: the list itself, whatever its signature. */
  readonly digest: string;
}

export type CrlOrder = 'newer' | 'same' | 'older-number' | 'older-this-update' | 'conflict';

/** The per-issuer key marks are kept under. */
export function issuerKey(m: Pick<CrlMark, 'issuer' | 'authorityKeyId'>): string {
  return `${m.issuer}\u0000${m.authorityKeyId ?? ''}`;
}

/** How `offered` stands against `mark`, the newest CRL of the same issuer enforced so far. */
export function compareCrl(offered: CrlMark, mark: CrlMark): CrlOrder {
  const t = Math.sign(offered.thisUpdate.getTime() - mark.thisUpdate.getTime());
  if (offered.crlNumber !== undefined && mark.crlNumber !== undefined) {
    if (offered.crlNumber < mark.crlNumber) return 'older-number';
    if (offered.crlNumber > mark.crlNumber) return t < 0 ? 'older-this-update' : 'newer';
    if (t < 0) return 'older-this-update';
    return t === 0 && offered.digest === mark.digest ? 'same' : 'conflict';
  }
  if (t < 0) return 'older-this-update';
  if (t > 0) return 'newer';
  return offered.digest === mark.digest ? 'same' : 'conflict';
}

/** Why a CRL file is refused: which issuer, what it offered and what is in force. */
export interface CrlRegression {
  readonly order: Exclude<CrlOrder, 'newer' | 'same'> | 'issuer-missing';
  /** The offered CRL of that issuer; undefined for 'issuer-missing'. */
  readonly offered: CrlMark | undefined;
  readonly inForce: CrlMark;
}

/** The newest mark per issuer among `marks` (a file may hold an old and a new CRL of one issuer). */
function newestPerIssuer(marks: readonly CrlMark[]): Map<string, CrlMark> {
  const out = new Map<string, CrlMark>();
  for (const m of marks) {
    const key = issuerKey(m);
    const have = out.get(key);
    if (!have || compareCrl(m, have) === 'newer') out.set(key, m);
  }
  return out;
}

/**
 * The first way `offered` (every CRL of a file) goes below `floor`, or undefined when it does
 * not. `stillTrusted` says whether an issuer's CA is still in the CA bundle: only then must its
 * CRL stay in the file.
 */
export function findRegression(offered: readonly CrlMark[], floor: readonly CrlMark[], stillTrusted: (mark: CrlMark) => boolean): CrlRegression | undefined {
  const byIssuer = newestPerIssuer(offered);
  for (const mark of floor) {
    const o = byIssuer.get(issuerKey(mark));
    if (!o) {
      if (stillTrusted(mark)) return { order: 'issuer-missing', offered: undefined, inForce: mark };
      continue;
    }
    const order = compareCrl(o, mark);
    if (order !== 'newer' && order !== 'same') return { order, offered: o, inForce: mark };
  }
  return undefined;
}

/**
 * The floor once `offered` is in force: its marks replace those of their issuers (never with a
 * lower CRL number: an unnumbered newer CRL keeps the number seen before), and the marks of
 * issuers it does not hold stay.
 */
export function raiseFloor(floor: readonly CrlMark[], offered: readonly CrlMark[]): CrlMark[] {
  const out = new Map<string, CrlMark>();
  for (const m of floor) out.set(issuerKey(m), m);
  for (const [key, m] of newestPerIssuer(offered)) {
    const before = out.get(key);
    const keepNumber = before?.crlNumber !== undefined && (m.crlNumber === undefined || m.crlNumber < before.crlNumber);
    out.set(key, keepNumber ? { ...m, crlNumber: before.crlNumber } : m);
  }
  return [...out.values()];
}

/** Both floors together: per issuer, whichever mark is not older than the other. */
export function mergeFloors(a: readonly CrlMark[], b: readonly CrlMark[]): CrlMark[] {
  const out = new Map<string, CrlMark>();
  for (const m of a) out.set(issuerKey(m), m);
  for (const m of b) {
    const key = issuerKey(m);
    const have = out.get(key);
    if (!have || compareCrl(m, have) === 'newer') out.set(key, m);
  }
  return [...out.values()];
}

export function sameFloor(a: readonly CrlMark[], b: readonly CrlMark[]): boolean {
  if (a.length !== b.length) return false;
  const byKey = new Map(a.map((m) => [issuerKey(m), m]));
  return b.every((m) => {
    const o = byKey.get(issuerKey(m));
    return o !== undefined && o.crlNumber === m.crlNumber && o.thisUpdate.getTime() === m.thisUpdate.getTime() && o.digest === m.digest;
  });
}
