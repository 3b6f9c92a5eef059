/** Validation of the values a user hands the CA: lifetimes, host names, CA names, reasons. */
import { isIP } from 'node:net';
import { PgmoatError } from '../util/errors.js';
import { quote } from './identity-format.js';

const MAX_DAYS = 36_500;

/** Accepts a positive whole number of days (as typed on a command line or passed from code). */
export function parseDays(value: string | number, option = '--days'): number {
  const text = String(value).trim();
  const days = /^[0-9]+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(days) || days < 1 || days > MAX_DAYS) {
    throw new PgmoatError('INVALID_DAYS', `${option} must be a whole number of days from 1 to ${MAX_DAYS}, got ${quote(text)}`);
  }
  return days;
}

const DNS_LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const DNS_NAME = new RegExp(`^(?:\\*\\.)?${DNS_LABEL}(?:\\.${DNS_LABEL})*$`);

export interface HostName {
  type: 'dns' | 'ip';
  value: string;
}

export function parseHost(value: string): HostName {
  if (isIP(value) !== 0) return { type: 'ip', value };
  if (value.length <= 253 && DNS_NAME.test(value)) return { type: 'dns', value: value.toLowerCase() };
  throw new PgmoatError('INVALID_HOST', `invalid --host ${quote(value)}: give a DNS name (e.g. db.example.com) or an IP address`);
}

const DEFAULT_HOSTS = ['localhost', '127.0.0.1', '::1'] as const;

export function parseHosts(values: readonly string[] | undefined): HostName[] {
  const list = values && values.length > 0 ? values : DEFAULT_HOSTS;
  const seen = new Set<string>();
  const hosts: HostName[] = [];
  for (const v of list) {
    const host = parseHost(v);
    if (seen.has(host.value)) continue;
    seen.add(host.value);
    hosts.push(host);
  }
  return hosts;
}

export const DEFAULT_CA_NAME = 'pgmoat CA';

export function validateCaName(value: string): string {
  // Printable characters only: the name lands in every certificate's subject.
  if (value.length < 1 || value.length > 64 || !/^[\x20-\x7e]+$/.test(value) || value.trim() !== value) {
    throw new PgmoatError('INVALID_CA_NAME', `invalid --ca-name ${quote(value)}: use 1-64 printable ASCII characters without leading or trailing spaces`);
  }
  return value;
}

/** RFC 5280 reason codes pgmoat offers (certificateHold is left out: pgmoat never un-revokes). */
export const REVOCATION_REASONS = {
  unspecified: 0,
  keyCompromise: 1,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5,
  privilegeWithdrawn: 9,
} as const;
export type RevocationReason = keyof typeof REVOCATION_REASONS;

export function parseReason(value: string): RevocationReason {
  if (Object.hasOwn(REVOCATION_REASONS, value)) return value as RevocationReason;
  throw new PgmoatError(
    'INVALID_REASON',
    `invalid --reason ${quote(value)}: use one of ${Object.keys(REVOCATION_REASONS).join(', ')}`,
  );
}
