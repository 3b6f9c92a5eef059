/** PEM helpers. @peculiar/x509 writes PEM without a trailing newline; files here always end with one. */
import { PgmoatError } from '../util/errors.js';
import { pemBlocks } from '@pgmoat/client/internal';

export function pemEncode(der: ArrayBuffer | Uint8Array, label: string): string {
  const b64 = Buffer.from(der instanceof Uint8Array ? der : new Uint8Array(der)).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
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
