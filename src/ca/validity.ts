/** The validity window of a certificate about to be signed. */
import { PgmoatError } from '../util/errors.js';
import type { CertificateAuthority } from './authority.js';
import { parseDays } from './inputs.js';

export interface ValidityOptions {
  /** Lifetime from now (a small backdate absorbs clock skew between hosts). */
  days?: number;
  /** Test-only explicit window (e.g. an already expired certificate). Overrides days. */
  notBefore?: Date;
  notAfter?: Date;
}

const DAY_MS = 86_400_000;
/** Backdating notBefore by a few minutes keeps a client whose clock runs slow from failing. */
const BACKDATE_MS = 5 * 60_000;

export function resolveValidity(
  ca: Pick<CertificateAuthority, 'cert'>,
  opts: ValidityOptions,
  defaultDays: number,
  now: Date,
): { notBefore: Date; notAfter: Date } {
  if (opts.notBefore !== undefined || opts.notAfter !== undefined) {
    const notBefore = opts.notBefore ?? new Date(now.getTime() - BACKDATE_MS);
    const notAfter = opts.notAfter ?? new Date(notBefore.getTime() + defaultDays * DAY_MS);
    if (!(notAfter.getTime() > notBefore.getTime())) {
      throw new PgmoatError('INVALID_VALIDITY', 'notAfter must be later than notBefore');
    }
    return { notBefore, notAfter };
  }
  const days = opts.days === undefined ? defaultDays : parseDays(opts.days);
  const notBefore = new Date(now.getTime() - BACKDATE_MS);
  const notAfter = new Date(now.getTime() + days * DAY_MS);
  const caEnd = ca.cert.notAfter;
  if (notAfter > caEnd) {
    throw new PgmoatError('INVALID_DAYS', `--days ${days} would outlive the CA, which expires ${caEnd.toISOString().slice(0, 10)}; choose fewer days`);
  }
  return { notBefore, notAfter };
}
