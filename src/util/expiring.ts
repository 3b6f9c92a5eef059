/**
 * When a certificate counts as expiring: the one rule `pgmoat list` and the console's SHOW CERTS
 * share. Less than 14 days left, or less than a third of its lifetime, whichever comes first: a
 * 90-day certificate is flagged 14 days ahead, a 24-hour one in its last 8 hours (when the agent,
 * renewing at two thirds of the lifetime, should already have replaced it), rather than a
 * fixed window that would flag every short-lived certificate from the moment it is issued.
 */
export const EXPIRING_WINDOW_DAYS = 14;
const DAY_MS = 86_400_000;

/** How long before notAfter a certificate of this validity counts as expiring, in ms. */
export function expiringWindowMs(notBefore: Date, notAfter: Date): number {
  const lifetime = notAfter.getTime() - notBefore.getTime();
  return Math.min(EXPIRING_WINDOW_DAYS * DAY_MS, lifetime / 3);
}

/** Not yet expired, and within its expiring window. */
export function isExpiring(notBefore: Date, notAfter: Date, now: number): boolean {
  const left = notAfter.getTime() - now;
  return left > 0 && left < expiringWindowMs(notBefore, notAfter);
}

/** The rule in words, for help texts and listings. */
export const EXPIRING_RULE_TEXT = `less than ${EXPIRING_WINDOW_DAYS} days or a third of their lifetime left`;
