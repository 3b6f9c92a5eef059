/**
 * The client library's one error type. It stands alone (no import from the gateway) so that
 * `@pgmoat/client` pulls in nothing but Node itself. `code` is stable: match on it, not on text.
 */
export type ClientErrorCode =
  /** Neither the base64 variable nor its file-path fallback is set. */
  | 'MISSING_VARIABLE'
  /** A *_B64 variable holds characters that are not base64. */
  | 'INVALID_BASE64'
  /** The value (decoded or read from a file) holds no PEM block of the expected kind. */
  | 'NOT_PEM'
  /** A PEM CERTIFICATE block that does not parse. */
  | 'INVALID_CERTIFICATE'
  /** A PEM private key that does not parse. */
  | 'INVALID_KEY'
  /** The private key does not belong to the certificate. */
  | 'KEY_MISMATCH'
  | 'CERT_EXPIRED'
  | 'CERT_NOT_YET_VALID'
  /** The certificate's extended key usage does not allow client authentication. */
  | 'CERT_NOT_FOR_CLIENT'
  /** The key is encrypted and PGCLIENT_KEY_PASSPHRASE is not set. */
  | 'PASSPHRASE_REQUIRED'
  | 'WRONG_PASSPHRASE'
  /** A key file that group or others can read (as libpq, it is refused). */
  | 'KEY_PERMISSIONS'
  /** sslFollowingFiles was given a base64 variable, which cannot change under a running process. */
  | 'FOLLOW_NEEDS_FILES'
  | 'FILE_UNREADABLE';

export class PgmoatClientError extends Error {
  readonly code: ClientErrorCode;
  /** The environment variable the problem comes from, when there is one. */
  readonly variable: string | undefined;

  constructor(code: ClientErrorCode, message: string, options: { variable?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PgmoatClientError';
    this.code = code;
    this.variable = options.variable;
  }
}
