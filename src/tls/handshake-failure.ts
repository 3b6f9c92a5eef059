/**
 * The metric label of a TLS handshake: why one that did not complete failed (a bounded value
 * read from Node's error, so that a client cannot grow the metric's cardinality with odd
 * errors), or, for one that completed, the certificate verdict's own reason.
 */
import type { CertRefusal } from '../util/cert-refusal.js';

export type HandshakeFailure =
  | Extract<CertRefusal, 'no-certificate'>
  | 'client-disconnected'
  | 'timeout'
  | 'protocol-version'
  | 'no-shared-cipher'
  | 'client-alert'
  | 'not-tls'
  | 'other';

/** `pgmoat_tls_handshakes_total{reason}`: 'none' for an accepted certificate, 'protocol' for a completed handshake with no verdict. */
export type HandshakeReason = HandshakeFailure | CertRefusal | 'none' | 'protocol';

export function handshakeFailureReason(err: Error): HandshakeFailure {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  const m = err.message.toLowerCase();
  if (code === 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE' || m.includes('peer did not return a certificate')) return 'no-certificate';
  if (code === 'ECONNRESET' || code === 'EPIPE' || m.includes('socket disconnected') || m.includes('socket hang up')) return 'client-disconnected';
  if (code === 'ERR_TLS_HANDSHAKE_TIMEOUT' || m.includes('timed out') || m.includes('timeout')) return 'timeout';
  // OpenSSL says "wrong version number" when the bytes are not a TLS record at all.
  if (m.includes('wrong version number') || m.includes('http request') || m.includes('packet length too long')) return 'not-tls';
  if (m.includes('unsupported protocol') || m.includes('version too low') || m.includes('protocol version')) return 'protocol-version';
  if (m.includes('no shared cipher') || m.includes('no suitable') || m.includes('no cipher')) return 'no-shared-cipher';
  if (m.includes('alert')) return 'client-alert';
  return 'other';
}
