/** The HTTP status of each refusal of the renewal service, and the reason label its metric uses. */
import type { ErrorCode } from '../util/error-codes.js';

const STATUS: Partial<Record<ErrorCode, number>> = {
  RENEWAL_CERT_REQUIRED: 401,
  RENEWAL_UNKNOWN_CA: 401,
  RENEWAL_CERT_UNKNOWN: 403,
  RENEWAL_REVOKED: 403,
  RENEWAL_EXPIRED: 403,
  RENEWAL_NOT_YET_VALID: 403,
  RENEWAL_NOT_CLIENT: 403,
  RENEWAL_IDENTITY_CHANGED: 400,
  RENEWAL_CSR_PURPOSE: 400,
  RENEWAL_CSR_MALFORMED: 400,
  RENEWAL_KEY_REUSED: 400,
  RENEWAL_RATE_LIMITED: 429,
  RENEWAL_UNAVAILABLE: 503,
};

export function httpStatusOf(code: ErrorCode): number {
  return STATUS[code] ?? 500;
}

/** `RENEWAL_REVOKED` -> `revoked`: short and stable, for pgmoat_renewals_total{reason}. */
export function reasonLabel(code: ErrorCode): string {
  return code.replace(/^RENEWAL_/, '').toLowerCase();
}
