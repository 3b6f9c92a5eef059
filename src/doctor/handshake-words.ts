/**
 * Handshake failures in plain words. OpenSSL servers (PostgreSQL) refuse a client certificate
 * with a TLS alert; Node servers (pgmoat) never send one: they close the socket, or (pgmoat)
 * read the startup packet and answer one FATAL ErrorResponse naming the reason.
 */
import type { ErrorFields } from '../protocol/error-response.js';
import { CERT_REFUSALS, certRefusalOfCode, type CertRefusal } from '../util/cert-refusal.js';

/** The gateway's own refusal reasons (util/cert-refusal.ts), and what only a TLS alert or a close can say. */
export type RefusalKind = CertRefusal | 'key-mismatch' | 'protocol' | 'closed' | 'other';

export interface Refusal {
  kind: RefusalKind;
  /** Stable code for scripts and tests. */
  code: string;
  words: string;
}

const ALERTS: Record<number, { name: string; kind: RefusalKind; words: string }> = {
  10: { name: 'unexpected_message', kind: 'protocol', words: 'the server received a TLS message it did not expect' },
  20: { name: 'bad_record_mac', kind: 'protocol', words: 'a TLS record failed its integrity check' },
  40: { name: 'handshake_failure', kind: 'protocol', words: 'the server found no TLS parameters (version, cipher, key type) in common with this client' },
  42: { name: 'bad_certificate', kind: 'invalid', words: 'the server rejected the client certificate as bad' },
  43: { name: 'unsupported_certificate', kind: 'not-for-client-use', words: 'the server does not accept this kind of client certificate (often: not for client use)' },
  44: { name: 'certificate_revoked', kind: 'revoked', words: 'the server says the client certificate has been revoked' },
  45: { name: 'certificate_expired', kind: 'expired', words: 'the server says the client certificate has expired (or is not yet valid)' },
  46: { name: 'certificate_unknown', kind: 'invalid', words: 'the server could not accept the client certificate' },
  47: { name: 'illegal_parameter', kind: 'protocol', words: 'the server saw an illegal value in the handshake' },
  48: { name: 'unknown_ca', kind: 'unknown-ca', words: 'the server does not trust the CA that issued the client certificate' },
  49: { name: 'access_denied', kind: 'other', words: 'the server denied access' },
  50: { name: 'decode_error', kind: 'protocol', words: 'the server could not decode a handshake message' },
  51: { name: 'decrypt_error', kind: 'key-mismatch', words: 'the server could not verify the handshake signature (the key may not belong to the certificate)' },
  70: { name: 'protocol_version', kind: 'protocol', words: 'the server and this client support no TLS version in common' },
  71: { name: 'insufficient_security', kind: 'protocol', words: 'the server requires stronger ciphers than this client offers' },
  80: { name: 'internal_error', kind: 'other', words: 'the server had an internal error during the handshake' },
  90: { name: 'user_canceled', kind: 'other', words: 'the server canceled the handshake' },
  109: { name: 'missing_extension', kind: 'protocol', words: 'the server expected a TLS extension this client did not send' },
  112: { name: 'unrecognized_name', kind: 'protocol', words: 'the server does not know the host name sent as SNI' },
  116: { name: 'certificate_required', kind: 'no-certificate', words: 'the server requires a client certificate and none was sent' },
  120: { name: 'no_application_protocol', kind: 'protocol', words: "the server refused the ALPN protocol 'postgresql'" },
};

const ALERT_CODE = /^ERR_SSL_(?:SSLV3|TLSV1|TLSV13)_ALERT_([A-Z_]+)$/;

function alertNumber(err: NodeJS.ErrnoException): number | undefined {
  const m = /alert number (\d+)/i.exec(err.message);
  if (m) return Number(m[1]);
  const c = ALERT_CODE.exec(err.code ?? '');
  if (!c) return undefined;
  const name = c[1]!.toLowerCase();
  for (const [n, a] of Object.entries(ALERTS)) if (a.name === name) return Number(n);
  return undefined;
}

/** A socket error during or right after the handshake, in plain words. */
export function translateTlsError(err: NodeJS.ErrnoException): Refusal {
  const n = alertNumber(err);
  if (n !== undefined) {
    const a = ALERTS[n];
    if (a) return { kind: a.kind, code: `TLS_ALERT_${a.name.toUpperCase()}`, words: `${a.words} (TLS alert ${n} ${a.name})` };
    return { kind: 'other', code: `TLS_ALERT_${n}`, words: `the server sent TLS alert ${n}` };
  }
  switch (err.code) {
    case 'ECONNRESET':
    case 'EPIPE':
      return { kind: 'closed', code: 'CONNECTION_RESET', words: 'the server reset the connection without a TLS alert' };
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
    case 'ERR_SSL_PACKET_LENGTH_TOO_LONG':
      return { kind: 'protocol', code: 'NOT_TLS', words: "the server's answer is not TLS, although it accepted the SSLRequest" };
    case 'ERR_SSL_UNSUPPORTED_PROTOCOL':
    case 'ERR_SSL_NO_PROTOCOLS_AVAILABLE':
      return { kind: 'protocol', code: 'TLS_VERSION', words: 'the server and this client support no TLS version in common' };
    default:
      return { kind: 'other', code: 'TLS_ERROR', words: `the TLS connection failed: ${err.code ? `${err.code}: ` : ''}${err.message.replace(/^.*SSL routines:+[^:]*:?/, '')}` };
  }
}

/**
 * A FATAL ErrorResponse that refuses the certificate itself, as opposed to one about the role
 * or database, which belongs to the login step. pgmoat names its refusal by code in the routine
 * field; PostgreSQL's one refusal of this kind (hba clientcert, no certificate sent) is known by
 * its wording.
 */
export function certificateRefusal(fields: ErrorFields): Refusal | undefined {
  const reason = certRefusalOfCode(fields.routine);
  if (reason !== undefined) {
    const code = CERT_REFUSALS[reason].code;
    if (reason === 'no-certificate') return { kind: reason, code, words: `the server requires a client certificate and none was sent: "${fields.message}"` };
    return { kind: reason, code, words: `the server refused the client certificate: "${fields.message}"` };
  }
  if (fields.code === '28000' && /^connection requires a valid client certificate/i.test(fields.message)) {
    return { kind: 'no-certificate', code: 'CLIENT_CERT_REQUIRED', words: `the server requires a client certificate and none was sent: "${fields.message}"` };
  }
  return undefined;
}
