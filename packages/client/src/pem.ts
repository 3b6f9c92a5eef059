/** Decoding what deployment platforms hand us: base64 of PEM, sometimes mangled on the way. */
import { PgmoatClientError } from './errors.js';

/** Drops the quotes a .env file or a copy-paste leaves around a value. */
function unquote(value: string): string {
  let v = value.trim();
  while (v.length >= 2 && (v[0] === '"' || v[0] === "'" || v[0] === '`') && v[v.length - 1] === v[0]) {
    v = v.slice(1, -1).trim();
  }
  return v;
}

const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;

/**
 * The PEM text held by a *_B64 variable. Tolerates line breaks and spaces inside the base64
 * (wrapped output of `base64`), literal "\n" escapes, surrounding whitespace and quotes, the
 * URL-safe alphabet, and a variable that holds the PEM itself instead of its base64.
 */
export function decodeB64Pem(value: string, variable: string): string {
  const v = unquote(value);
  if (v.includes('-----BEGIN ')) return v.replace(/\\r\\n|\\n/g, '\n');
  const compact = v.replace(/\\r|\\n/g, '').replace(/\s+/g, '');
  if (compact.length === 0 || !BASE64.test(compact) || compact.length % 4 === 1) {
    throw new PgmoatClientError('INVALID_BASE64', `${variable} is not valid base64 (expected the base64 of a PEM file)`, { variable });
  }
  const text = Buffer.from(compact, compact.includes('-') || compact.includes('_') ? 'base64url' : 'base64').toString('utf8');
  if (!text.includes('-----BEGIN ')) {
    throw new PgmoatClientError('NOT_PEM', `${variable} decodes to something that is not PEM (expected a "-----BEGIN" line)`, { variable });
  }
  return text;
}

/** One PEM block; the gateway's CA code reads its files with this reader too. */
export interface PemBlock {
  label: string;
  /** The base64 body decoded (headers left out). */
  der: Buffer;
  /** The whole block, BEGIN and END lines included, with LF line ends and a trailing newline. */
  text: string;
  /** Headers between BEGIN and the base64 body (traditional encrypted keys use them), or ''. */
  headers: string;
}

// The body may not hold "-----": a block cut short (no END line) then matches nothing instead of
// swallowing the next block.
const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n((?:(?!-----)[\s\S])*?)-----END \1-----/g;

/** Every whole PEM block in a text, in order. */
export function pemBlocks(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  for (const m of text.matchAll(BLOCK)) {
    const body = m[2]!;
    const headerEnd = body.search(/\r?\n\r?\n/);
    const headers = body.includes(':') && headerEnd >= 0 ? body.slice(0, headerEnd) : '';
    const base64 = headers === '' ? body : body.slice(headerEnd);
    blocks.push({
      label: m[1]!,
      der: Buffer.from(base64.replace(/\s+/g, ''), 'base64'),
      text: `${m[0].replace(/\r\n/g, '\n')}\n`,
      headers,
    });
  }
  return blocks;
}

export const PRIVATE_KEY_LABELS = ['PRIVATE KEY', 'ENCRYPTED PRIVATE KEY', 'RSA PRIVATE KEY', 'EC PRIVATE KEY'] as const;

export function isEncryptedKey(block: PemBlock): boolean {
  return block.label === 'ENCRYPTED PRIVATE KEY' || /Proc-Type:\s*4,\s*ENCRYPTED/i.test(block.headers);
}
