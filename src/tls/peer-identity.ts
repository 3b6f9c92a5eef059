/**
 * Who the client is, read from its certificate after the chain verified. Only structured
 * fields are read (subject attributes, URI SANs), never a string match on the whole subject.
 */
import type { PeerCertificate } from 'node:tls';
import { parseIdentityUri } from '../ca/identity-format.js';
import { normalizeSerial } from '../util/serial.js';
import { tryReadCertUsage, type CertUsage } from './cert-usage.js';

export interface PeerIdentity {
  /** The subject common name: the application name pgmoat issued the certificate for. */
  readonly cn: string;
  /** From the pgmoat URI SAN, else the subject OU; undefined when neither exists. */
  readonly environment: string | undefined;
  /** Lowercase hex in whole bytes, as `pgmoat list` prints it (util/serial.ts). */
  readonly serial: string;
  /** SHA-256 fingerprint, colon-separated uppercase hex as Node writes it. */
  readonly fingerprint256: string;
  readonly notAfter: Date;
  readonly notBefore: Date;
  readonly issuerCn: string | undefined;
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** URI entries of a subjectaltname string such as `URI:pgmoat://prod/app, DNS:x`. */
function uriSans(subjectaltname: string | undefined): string[] {
  if (!subjectaltname) return [];
  const out: string[] = [];
  for (const part of subjectaltname.split(', ')) {
    if (part.startsWith('URI:')) out.push(part.slice(4));
  }
  return out;
}

function identityFromCertificate(cert: PeerCertificate): PeerIdentity | undefined {
  const cn = first(cert.subject?.CN);
  if (!cn) return undefined;
  let environment: string | undefined;
  for (const uri of uriSans(cert.subjectaltname)) {
    const parsed = parseIdentityUri(uri);
    if (parsed && parsed.name === cn) {
      environment = parsed.environment;
      break;
    }
  }
  environment ??= first(cert.subject?.OU);
  return {
    cn,
    environment,
    serial: normalizeSerial(cert.serialNumber),
    fingerprint256: cert.fingerprint256,
    notAfter: new Date(cert.valid_to),
    notBefore: new Date(cert.valid_from),
    issuerCn: first(cert.issuer?.CN),
  };
}

/** What pgmoat reads of a client certificate once: who it is. */
export interface CertificateFacts {
  /** undefined when the certificate names no CN. */
  readonly identity: PeerIdentity | undefined;
}

const UNREAD = Symbol('unread');

interface CacheEntry extends CertificateFacts {
  /** Its purpose extensions (cert-usage.ts); UNREAD until certificateUsage first asks. */
  usage: CertUsage | undefined | typeof UNREAD;
}

/**
 * Facts already read, by certificate fingerprint (SHA-256 of the DER): sessions of one
 * certificate share one identity object, and its fields (URI SANs, dates, purpose extensions)
 * are parsed once. The certificate itself is read with getPeerCertificate(false), which is the
 * cheaper of Node's two ways on Node 20 / OpenSSL 3.0: 42 µs on the first call of a connection
 * against 124 µs for getPeerX509Certificate() and its fingerprint256 (300 mutual-TLS connections
 * each, ECDSA P-256, with and without the CA in the client's chain; the X509Certificate wrapper
 * decodes the certificate's public key again).
 *
 * The purpose extensions come from its `raw` DER through @peculiar/asn1-schema, which decodes the
 * whole certificate (asn1js builds a tree of every element and copies values as it reads them):
 * 0.5 to 0.7 ms of CPU per certificate on a miss, where the hand-written DER walk it replaced took
 * 2 µs (Node 20, pgmoat client certificates with EC P-256 and RSA-2048 keys, on the shared 2-core
 * machine, 2026-12; `npx tsx bench/experiments/cert-usage-cost.ts`). Nothing on a hit. Hence the
 * usage is read only when asked for (certificateUsage): for a certificate whose chain verified, or
 * whose purpose OpenSSL refused, and not for every foreign or expired certificate a peer presents.
 */
const byFingerprint = new Map<string, CacheEntry>();
const CACHE_LIMIT = 4096;

function entryFor(cert: PeerCertificate | null | undefined): CacheEntry | undefined {
  // Node returns an empty object (or null) when the peer sent no certificate.
  const fingerprint = cert?.fingerprint256;
  if (!cert || !fingerprint) return undefined;
  const known = byFingerprint.get(fingerprint);
  if (known !== undefined) return known;
  const entry: CacheEntry = { identity: identityFromCertificate(cert), usage: UNREAD };
  // Oldest first out: a Map iterates in insertion order.
  if (byFingerprint.size >= CACHE_LIMIT) byFingerprint.delete(byFingerprint.keys().next().value!);
  byFingerprint.set(fingerprint, entry);
  return entry;
}

/** The facts of a certificate Node handed over; undefined when the peer sent none. */
export function certificateFacts(cert: PeerCertificate | null | undefined): CertificateFacts | undefined {
  return entryFor(cert);
}

/**
 * The purpose extensions of a certificate Node handed over, read on the first call for it;
 * undefined when there is no certificate or its extensions cannot be read (usageProblem refuses
 * both as 'unreadable').
 */
export function certificateUsage(cert: PeerCertificate | null | undefined): CertUsage | undefined {
  const entry = entryFor(cert);
  if (!entry) return undefined;
  if (entry.usage === UNREAD) entry.usage = tryReadCertUsage(cert!.raw);
  return entry.usage;
}
