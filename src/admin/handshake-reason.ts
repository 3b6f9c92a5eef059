/**
 * A bounded label value for why a TLS handshake did not complete, from Node's error. The set is
 * closed so that a client cannot grow the metric's cardinality with odd errors.
 */
export type HandshakeFailure =
  | 'no-certificate'
  | 'client-disconnected'
  | 'timeout'
  | 'protocol-version'
  | 'no-shared-cipher'
  | 'client-alert'
  | 'not-tls'
  | 'other';

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
