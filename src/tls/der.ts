/**
 * Just enough DER to walk a certificate or a CRL to the few fields pgmoat decides on, without
 * decoding the rest: a TLV reader with bounds checks. Anything malformed throws DerError; the
 * callers treat that as "cannot tell", which always means refuse.
 */

export class DerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DerError';
  }
}

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  OID: 0x06,
  SEQUENCE: 0x30,
  /** [0] EXPLICIT, constructed (a certificate's version). */
  CONTEXT_0: 0xa0,
  /** [3] EXPLICIT, constructed (a certificate's extensions). */
  CONTEXT_3: 0xa3,
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
export function readTlv(buf: Uint8Array, offset: number, limit = buf.length): Tlv {
  if (offset + 2 > limit) throw new DerError('truncated element');
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new DerError('multi-byte tag');
  let length = buf[offset + 1]!;
  let valueStart = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    // DER: no indefinite length, and 4 length bytes are plenty for anything a handshake carries.
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

/** The elements inside a constructed one. */
export function children(buf: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  let at = parent.valueStart;
  while (at < parent.end) {
    const t = readTlv(buf, at, parent.end);
    out.push(t);
    at = t.end;
  }
  return out;
}

export function valueOf(buf: Uint8Array, t: Tlv): Uint8Array {
  return buf.subarray(t.valueStart, t.end);
}

/** True when the OID element holds exactly these content bytes. */
export function oidEquals(buf: Uint8Array, t: Tlv, contents: readonly number[]): boolean {
  if (t.tag !== TAG.OID || t.end - t.valueStart !== contents.length) return false;
  for (let i = 0; i < contents.length; i++) if (buf[t.valueStart + i] !== contents[i]) return false;
  return true;
}

/** Dotted form of an OID element's value. */
export function oidString(bytes: Uint8Array): string {
  if (bytes.length === 0) throw new DerError('empty OID');
  const parts: number[] = [];
  let value = 0;
  for (const b of bytes) {
    value = value * 128 + (b & 0x7f);
    if (value > Number.MAX_SAFE_INTEGER) throw new DerError('OID arc too large');
    if ((b & 0x80) === 0) {
      if (parts.length === 0) {
        const first = value < 80 ? Math.floor(value / 40) : 2;
        parts.push(first, value - first * 40);
      } else parts.push(value);
      value = 0;
    }
  }
  if (bytes[bytes.length - 1]! & 0x80) throw new DerError('truncated OID');
  return parts.join('.');
}

/** A non-negative INTEGER's value (a CRL number may be up to 20 octets: RFC 5280, 5.2.3). */
export function unsignedInteger(bytes: Uint8Array): bigint {
  if (bytes.length === 0) throw new DerError('empty INTEGER');
  if (bytes[0]! & 0x80) throw new DerError('negative INTEGER');
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return v;
}
