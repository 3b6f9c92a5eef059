/**
 * Why a client certificate is refused, said once: the verdict (tls/client-tls.ts) names a reason,
 * and from it come the error code and message the client reads, the audit reason, the metric
 * label (the reason itself) and, on the client side, the doctor's verdict (it reads the code
 * back from the ErrorResponse's routine field). The live-session enforcer and the admin
 * console refuse with the same codes, so a revoked certificate is CLIENT_CERT_REVOKED
 * wherever it is caught.
 */
import type { ErrorCode } from './error-codes.js';
import { PgmoatError } from './errors.js';

interface RefusalEntry {
  readonly code: ErrorCode;
  /** The FATAL message; a purpose problem adds its USAGE_DETAILS in parentheses. */
  readonly message: string;
  /** The audit log's `reason` (access/audit.ts). */
  readonly audit: string;
}

export const CERT_REFUSALS = {
  'no-certificate': { code: 'CLIENT_CERT_REQUIRED', message: 'connection requires a valid client certificate: none was sent', audit: 'no certificate' },
  'unknown-ca': { code: 'CLIENT_CERT_UNKNOWN_CA', message: 'client certificate was not issued by a CA this gateway trusts', audit: 'unknown CA' },
  expired: { code: 'CLIENT_CERT_EXPIRED', message: 'client certificate has expired', audit: 'expired' },
  'not-yet-valid': { code: 'CLIENT_CERT_NOT_YET_VALID', message: 'client certificate is not yet valid', audit: 'not yet valid' },
  revoked: { code: 'CLIENT_CERT_REVOKED', message: 'client certificate has been revoked', audit: 'revoked' },
  'not-for-client-use': { code: 'CLIENT_CERT_NOT_FOR_CLIENT', message: 'client certificate is not for client use', audit: 'not for client use' },
  'no-identity': { code: 'CLIENT_CERT_NO_IDENTITY', message: 'client certificate has no subject common name', audit: 'no identity' },
  invalid: { code: 'CLIENT_CERT_INVALID', message: 'client certificate could not be verified', audit: 'invalid certificate' },
} as const satisfies Record<string, RefusalEntry>;

export type CertRefusal = keyof typeof CERT_REFUSALS;
export type CertRefusalCode = (typeof CERT_REFUSALS)[CertRefusal]['code'];

/** A "not for client use" refusal, told more exactly by the purpose check that failed. */
const USAGE_REFUSALS = {
  'ca-certificate': { detail: 'it is a CA certificate: basicConstraints CA:TRUE', audit: 'CA certificate' },
  'no-digital-signature': { detail: 'its key usage lacks digitalSignature', audit: 'key usage without digital signature' },
  'no-extended-key-usage': { detail: 'it has no extended key usage; clientAuth is required', audit: 'no extended key usage' },
  'no-client-auth': { detail: 'it lacks the clientAuth extended key usage', audit: 'not for client use' },
  unreadable: { detail: 'its extensions cannot be read', audit: 'invalid certificate' },
} as const satisfies Record<string, { detail: string; audit: string }>;

/** Which purpose check refused a certificate (tls/cert-usage.ts). */
export type UsageProblem = keyof typeof USAGE_REFUSALS;

export type CertAuditReason = (typeof CERT_REFUSALS)[CertRefusal]['audit'] | (typeof USAGE_REFUSALS)[UsageProblem]['audit'];

export function certRefusalMessage(reason: CertRefusal, usage?: UsageProblem): string {
  const message = CERT_REFUSALS[reason].message;
  return usage ? `${message} (${USAGE_REFUSALS[usage].detail})` : message;
}

export function certAuditReason(reason: CertRefusal, usage?: UsageProblem): CertAuditReason {
  return reason === 'not-for-client-use' && usage ? USAGE_REFUSALS[usage].audit : CERT_REFUSALS[reason].audit;
}

/** The error a client reads for a refused certificate (SQLSTATE 28000, from the catalogue). */
export function certRefusalError(reason: CertRefusal, options: { usage?: UsageProblem | undefined; message?: string; hint?: string } = {}): PgmoatError {
  return new PgmoatError(CERT_REFUSALS[reason].code, options.message ?? certRefusalMessage(reason, options.usage), options.hint ? { hint: options.hint } : {});
}

const BY_CODE: ReadonlyMap<string, CertRefusal> = new Map(Object.entries(CERT_REFUSALS).map(([reason, e]) => [e.code, reason as CertRefusal]));

/** The refusal an error code stands for (the doctor reads it from the routine field); undefined for any other code. */
export function certRefusalOfCode(code: string | undefined): CertRefusal | undefined {
  return code === undefined ? undefined : BY_CODE.get(code);
}
