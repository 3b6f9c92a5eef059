/** PEM helpers. @peculiar/x509 writes PEM without a trailing newline; files here always end with one. */
import { PgmoatError } from '../util/errors.js';

export function pemEncode(der: ArrayBuffer | Uint8Array, label: string): string {
  const b64 = Buffer.from(der instanceof Uint8Array ? der : new Uint8Array(der)).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

export interface PemBlock {
  label: string;
  der: Buffer;
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([A-Za-z0-9+/=\r\n]*?)-----END \1-----/g;

/** Every PEM block in a text, in order. */
export function pemBlocks(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  for (const m of text.matchAll(PEM_BLOCK)) {
    blocks.push({ label: m[1]!, der: Buffer.from(m[2]!.replace(/\s+/g, ''), 'base64') });
  }
  return blocks;
}

/** The first block with one of the labels, or a PgmoatError naming what was expected. */
export function pemDecodeOne(text: string, labels: readonly string[], what: string): Buffer {
  const block = pemBlocks(text).find((b) => labels.includes(b.label));
  if (!block || block.der.length === 0) {
    throw new PgmoatError('PEM_INVALID', `${what} is not a PEM ${labels[0]}`);
  }
  return block.der;
}

export function looksLikePem(data: Uint8Array | string): boolean {
  const text = typeof data === 'string' ? data : Buffer.from(data.subarray(0, 200)).toString('latin1');
  return text.includes('-----BEGIN ');
}
