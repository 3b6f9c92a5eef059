/** Facts about certificates, phrased for a person: names, SANs, days left, who issued whom. */
import type { X509Certificate } from 'node:crypto';
import { parseIdentityUri } from '../ca/identity-format.js';

const DAY_MS = 86_400_000;

/** The value of one attribute of a Node subject/issuer string ("CN=x\nO=y"). */
function attribute(name: string, dn: string): string | undefined {
  for (const line of dn.split('\n')) {
    if (line.startsWith(`${name}=`)) return line.slice(name.length + 1);
  }
  return undefined;
}

/** "CN=x" when there is a CN, else the whole DN on one line. */
export function shortName(dn: string): string {
  const cn = attribute('CN', dn);
  return cn === undefined ? dn.replace(/\n/g, ', ') : `CN=${cn}`;
}

export interface CertIdentity {
  /** The subject CN: the application name (and PostgreSQL role) pgmoat issued it for. */
  cn: string | undefined;
  /** From the pgmoat URI SAN, else the subject OU. */
  environment: string | undefined;
}

/** Splits Node's subjectAltName ("DNS:a, IP Address:1.2.3.4, URI:x") into entries. */
function altNames(cert: X509Certificate): { type: string; value: string }[] {
  const text = cert.subjectAltName;
  if (!text) return [];
  return text.split(', ').flatMap((part) => {
    const i = part.indexOf(':');
    return i < 0 ? [] : [{ type: part.slice(0, i), value: part.slice(i + 1) }];
  });
}

/** Node writes IPv6 SANs in full (0:0:0:0:0:0:0:1); people write ::1. */
function compactIp(value: string): string {
  if (!value.includes(':')) return value;
  try {
    return new URL(`http://[${value}]/`).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return value;
  }
}

/** The DNS names and IP addresses a server certificate is valid for. */
export function hostNames(cert: X509Certificate): string[] {
  return altNames(cert).flatMap((a) => (a.type === 'DNS' ? [a.value] : a.type === 'IP Address' ? [compactIp(a.value)] : []));
}

export function certIdentity(cert: X509Certificate): CertIdentity {
  const cn = attribute('CN', cert.subject);
  let environment: string | undefined;
  for (const a of altNames(cert)) {
    const parsed = a.type === 'URI' ? parseIdentityUri(a.value) : undefined;
    if (parsed && parsed.name === cn) environment = parsed.environment;
  }
  return { cn, environment: environment ?? attribute('OU', cert.subject) };
}

/** Whole days until notAfter (negative once expired). */
export function daysLeft(cert: X509Certificate, now: Date): number {
  return Math.floor((new Date(cert.validTo).getTime() - now.getTime()) / DAY_MS);
}

export function expiryText(cert: X509Certificate, now: Date): string {
  const notAfter = new Date(cert.validTo).toISOString().slice(0, 10);
  const days = daysLeft(cert, now);
  if (days < 0) return `expired on ${notAfter}`;
  return `expires ${notAfter} (${days} day${days === 1 ? '' : 's'} left)`;
}

function signedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

export type ChainCheck = { ok: true; anchor: X509Certificate } | { ok: false; issuer: string };

/**
 * Whether `leaf` chains, through `intermediates`, to one of `anchors`. Signatures are checked;
 * validity and usage are not (the steps check those separately, to say which one is wrong).
 */
export function chainsTo(leaf: X509Certificate, intermediates: readonly X509Certificate[], anchors: readonly X509Certificate[]): ChainCheck {
  let current = leaf;
  for (let depth = 0; depth < 8; depth++) {
    const anchor = anchors.find((a) => signedBy(current, a));
    if (anchor) return { ok: true, anchor };
    const next = intermediates.find((c) => c !== current && signedBy(current, c));
    if (!next) return { ok: false, issuer: shortName(current.issuer) };
    current = next;
  }
  return { ok: false, issuer: shortName(current.issuer) };
}
