/**
 * SASLprep (RFC 4013) of a SCRAM password, with PostgreSQL's exact fallback: when the
 * password is not valid UTF-8 or contains something SASLprep prohibits, PostgreSQL (both
 * libpq and the server) silently uses the raw bytes instead. Getting this identical matters
 * more than getting RFC 3454 complete: a verifier built one way and checked the other way
 * would refuse a correct password.
 *
 * Steps: pure-ASCII shortcut, C.1.2 -> space, B.1 -> nothing, empty-after-mapping
 * prohibited, NFKC (Node's ICU; NFKC of characters assigned in Unicode 3.2 is stable across
 * versions), prohibited output (C.1.2, C.2-C.9), unassigned in Unicode 3.2 (A.1), and the
 * bidi rule (D.1/D.2). The large tables are generated (saslprep-tables.ts). Like PostgreSQL,
 * the prohibition and bidi checks look at the mapped characters before normalization.
 */

import { L_CAT as L_CAT_TEXT, RAND_AL_CAT as RAND_AL_CAT_TEXT, UNASSIGNED_3_2 } from './saslprep-tables.js';

type Ranges = readonly (readonly [number, number])[];

// RFC 3454 C.1.2: non-ASCII space characters, mapped to U+0020.
const NON_ASCII_SPACE: Ranges = [
  [0x00a0, 0x00a0],
  [0x1680, 0x1680],
  [0x2000, 0x200b],
  [0x202f, 0x202f],
  [0x205f, 0x205f],
  [0x3000, 0x3000],
];

// RFC 3454 B.1: commonly mapped to nothing.
const MAPPED_TO_NOTHING: Ranges = [
  [0x00ad, 0x00ad],
  [0x034f, 0x034f],
  [0x1806, 0x1806],
  [0x180b, 0x180d],
  [0x200b, 0x200d],
  [0x2060, 0x2060],
  [0xfe00, 0xfe0f],
  [0xfeff, 0xfeff],
];

// SASLprep's prohibited output: C.1.2, C.2.1, C.2.2, C.3, C.4, C.5, C.6, C.7, C.8, C.9.
const PROHIBITED: Ranges = [
  [0x0000, 0x001f], // C.2.1
  [0x007f, 0x009f], // C.2.1, C.2.2
  [0x00a0, 0x00a0], // C.1.2
  [0x0340, 0x0341], // C.8
  [0x06dd, 0x06dd], // C.2.2
  [0x070f, 0x070f], // C.2.2
  [0x1680, 0x1680], // C.1.2
  [0x180e, 0x180e], // C.2.2
  [0x2000, 0x200f], // C.1.2, C.2.2, C.8
  [0x2028, 0x202f], // C.1.2, C.2.2, C.8
  [0x205f, 0x2063], // C.1.2, C.2.2
  [0x206a, 0x206f], // C.2.2, C.8
  [0x2ff0, 0x2ffb], // C.7
  [0x3000, 0x3000], // C.1.2
  [0xd800, 0xdfff], // C.5
  [0xe000, 0xf8ff], // C.3
  [0xfdd0, 0xfdef], // C.4
  [0xfeff, 0xfeff], // C.2.2
  [0xfff9, 0xffff], // C.2.2, C.4, C.6
  [0x1d173, 0x1d17a], // C.2.2
  [0xe0001, 0xe0001], // C.9
  [0xe0020, 0xe007f], // C.9
  [0xf0000, 0x10ffff], // C.3 (planes 15-16)
];

function parseRanges(table: string): Ranges {
  return table
    .trim()
    .split(' ')
    .map((item) => {
      const [a, b] = item.split('-') as [string, string | undefined];
      return [parseInt(a, 16), parseInt(b ?? a, 16)] as const;
    });
}

const UNASSIGNED = parseRanges(UNASSIGNED_3_2);
const RAND_AL_CAT = parseRanges(RAND_AL_CAT_TEXT);
const L_CAT = parseRanges(L_CAT_TEXT);

function inRanges(code: number, ranges: Ranges): boolean {
  let lo = 0;
  let hi = ranges.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const r = ranges[mid]!;
    if (code < r[0]) hi = mid - 1;
    else if (code > r[1]) lo = mid + 1;
    else return true;
  }
  return false;
}

/** C.4: the last two code points of every plane are non-characters. */
function isPlaneEndNonCharacter(code: number): boolean {
  return (code & 0xfffe) === 0xfffe;
}

export type SaslprepResult =
  | { ok: true; value: string }
  | { ok: false; reason: 'invalid-utf8' | 'prohibited' };

const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function isAscii(bytes: Buffer): boolean {
  for (const b of bytes) if (b > 0x7f) return false;
  return true;
}

/** RFC 4013 SASLprep as PostgreSQL's pg_saslprep() does it (see the file comment). */
export function pgSaslprep(input: string | Buffer): SaslprepResult {
  const bytes = typeof input === 'string' ? Buffer.from(input, 'utf8') : input;
  if (isAscii(bytes)) return { ok: true, value: bytes.toString('latin1') };
  let text: string;
  try {
    text = utf8Strict.decode(bytes);
  } catch {
    return { ok: false, reason: 'invalid-utf8' };
  }
  const mapped: number[] = [];
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    if (inRanges(code, NON_ASCII_SPACE)) mapped.push(0x20);
    else if (!inRanges(code, MAPPED_TO_NOTHING)) mapped.push(code);
  }
  if (mapped.length === 0) return { ok: false, reason: 'prohibited' };
  for (const code of mapped) {
    if (inRanges(code, PROHIBITED) || isPlaneEndNonCharacter(code)) return { ok: false, reason: 'prohibited' };
    if (inRanges(code, UNASSIGNED)) return { ok: false, reason: 'prohibited' };
  }
  if (mapped.some((c) => inRanges(c, RAND_AL_CAT))) {
    if (mapped.some((c) => inRanges(c, L_CAT))) return { ok: false, reason: 'prohibited' };
    if (!inRanges(mapped[0]!, RAND_AL_CAT) || !inRanges(mapped[mapped.length - 1]!, RAND_AL_CAT)) {
      return { ok: false, reason: 'prohibited' };
    }
  }
  return { ok: true, value: mapped.map((c) => String.fromCodePoint(c)).join('').normalize('NFKC') };
}

/**
 * The bytes PostgreSQL feeds to PBKDF2 for this password: the SASLprep'd string in UTF-8,
 * or the raw bytes when SASLprep refuses the input.
 */
export function scramPasswordBytes(password: string | Buffer): Buffer {
  const prepared = pgSaslprep(password);
  if (prepared.ok) return Buffer.from(prepared.value, 'utf8');
  return typeof password === 'string' ? Buffer.from(password, 'utf8') : Buffer.from(password);
}
