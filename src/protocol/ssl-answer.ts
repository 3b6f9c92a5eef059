/**
 * A server's answer to an SSLRequest, as the gateway's upstream login and `pgmoat doctor` both
 * read it: one byte, 'S' or 'N'. Bytes after the 'S' in the same read would be taken as if they had
 * come through TLS (CVE-2021-23222); 'E' is an ErrorResponse from a server too old or not willing
 * to negotiate; anything else is not PostgreSQL.
 */
export type SslAnswer =
  | { kind: 'tls' }
  | { kind: 'plain' }
  | { kind: 'injected'; extraBytes: number }
  | { kind: 'error-response' }
  | { kind: 'foreign'; firstBytes: string };

export function classifySslAnswer(chunk: Buffer): SslAnswer {
  const first = chunk[0];
  if (first === 0x53) return chunk.length === 1 ? { kind: 'tls' } : { kind: 'injected', extraBytes: chunk.length - 1 };
  if (first === 0x4e && chunk.length === 1) return { kind: 'plain' };
  if (first === 0x45) return { kind: 'error-response' };
  return { kind: 'foreign', firstBytes: hexBytes(chunk) };
}

/** Up to the first 8 bytes, as hex: what to show of an answer that is not PostgreSQL's. */
function hexBytes(chunk: Buffer): string {
  return [...chunk.subarray(0, 8)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
}
