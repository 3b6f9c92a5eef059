/**
 * The little DER revocation-list.ts still reads by hand: where a CRL's tbsCertList lies (its digest
 * tells two CRLs of one number apart) and the CRL Number as a bigint (RFC 5280 5.2.3: up to 20
 * octets). Client certificates are read with @peculiar/asn1-schema (cert-usage.ts); the CRL reads
 * could move there too. Anything malformed throws DerError.
 */

export class DerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DerError';
  }
}

export const TAG = {
  INTEGER: 0x02,
  SEQUENCE: 0x30,
} as const;

/** One element: its tag and where its value lies in the buffer it was read from. */
export interface Tlv {
  readonly tag: number;
  /** Offset of the first byte of the tag. */
  readonly start: number;
  /** Offset of the first byte of the value. */
  readonly valueStart: number;
  /** Offset just past the value. */
  readonly end: number;
}

/** The element at `offset`, which must end by `limit`. Only single-byte tags (all X.509 needs). */
function readTlv(buf: Uint8Array, offset: number, limit = buf.length): Tlv {
  if (offset + 2 > limit) throw new DerError('truncated element');
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError('multi-byte tag');
  let length = buf[offset + 1]!;
  let valueStart = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    // DER: no indefinite length, and 4 length bytes are plenty for a CRL.
    if (count === 0 || count > 4) throw new DerError('unsupported length');
    if (valueStart + count > limit) throw new DerError('truncated length');
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + buf[valueStart + i]!;
    valueStart += count;
  }
  const end = valueStart + length;
  if (end > limit) throw new DerError('element runs past its container');
  return { tag, start: offset, valueStart, end };
}

/** The element at `offset`, which must have the tag `tag`. */
export function expectTlv(buf: Uint8Array, offset: number, tag: number, limit = buf.length): Tlv {
  const t = readTlv(buf, offset, limit);
  if (t.tag !== tag) throw new DerError(`expected tag 0x${tag.toString(16)}, got 0x${t.tag.toString(16)}`);
  return t;
}

/** A non-negative INTEGER's value (a CRL number may be up to 20 octets: RFC 5280, 5.2.3). */
export function unsignedInteger(bytes: Uint8Array): bigint {
  if (bytes.length === 0) throw new DerError('empty INTEGER');
  if (bytes[0]! & 0x80) throw new DerError('negative INTEGER');
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return v;
}
