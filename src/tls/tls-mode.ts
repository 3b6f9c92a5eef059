import type { TlsMode } from '../config/schema.js';
export type { TlsMode } from '../config/schema.js';

/** Modes in which a client without TLS is refused. */
export function tlsRequired(mode: TlsMode): boolean {
  return mode === 'require' || mode === 'verify-ca' || mode === 'verify-full';
}
