/**
 * Who the client is, read from its certificate after the chain verified. Only structured
 * fields are read (subject attributes, URI and DNS SANs), never a string match on the whole
 * subject.
 *
 * A certificate may name no CN at all: SPIRE's X.509-SVIDs carry only a URI SAN (the SPIFFE ID).
 * Such a certificate still has an identity here (its SANs); whether the gateway accepts it is the
 * verdict's business (client-tls.ts), and which roles it may use the access rules' (auth/).
 */
import type { DetailedPeerCertificate, PeerCertificate, TLSSocket } from 'node:tls';
import { parseIdentityUri } from '../ca/identity-format.js';
import { normalizeSerial } from '../util/serial.js';
import { tryReadCertUsage, type CertUsage } from './cert-usage.js';

export interface PeerIdentity {
  /**
   * The subject common name: the application name pgmoat issued the certificate for. Undefined
   * for a certificate that names only SANs (a SPIFFE X.509-SVID, say).
   */
  readonly cn: string | undefined;
  /**
   * From the pgmoat URI SAN whose name is the CN, else the subject OU; undefined when neither
   * exists (always for a certificate without CN: its environment never comes from a SAN alone).
   */
  readonly environment: string | undefined;
  /** URI SANs as written (SPIFFE IDs, the pgmoat:// identity URI...), in certificate order. */
  readonly uris: readonly string[];
  /** DNS SANs, lowercased (DNS names compare without case), in certificate order. */
  readonly dnsNames: readonly string[];
  /** Lowercase hex in whole bytes, as `pgmoat list` prints it (util/serial.ts). */
  readonly serial: string;
  /** SHA-256 fingerprint, colon-separated uppercase hex as Node writes it. */
  readonly fingerprint256: string;
  readonly notAfter: Date;
  readonly notBefore: Date;
  readonly issuerCn: string | undefined;
  /**
   * Serials (canonical form) of the CA certificates above it in the chain Node verified, issuer
   * first: a revoked intermediate revokes every certificate under it. Read once per certificate,
   * on its first verified handshake (chainIssuerSerials); undefined where none was read.
   */
  readonly issuerSerials?: readonly string[];
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/**
 * The entries of Node's subjectaltname string (`DNS:a.example, URI:spiffe://td/x, IP Address:...`).
 * Node writes a value holding a comma, quote or other special character as a JSON string
 * (`URI:"spiffe://x\u002c DNS:admin"`), so that a crafted SAN cannot pass for two: the value is
 * read back with JSON.parse, never split on ", ". A string this parser does not understand
 * yields no entries after the point where it stopped (fewer names, never invented ones).
 */
export function parseSubjectAltName(subjectaltname: string | undefined): { type: string; value: string }[] {
  const out: { type: string; value: string }[] = [];
  if (!subjectaltname) return out;
  let i = 0;
  const s = subjectaltname;
  while (i < s.length) {
    const colon = s.indexOf(':', i);
    if (colon < 0) break;
    const type = s.slice(i, colon);
    let j = colon + 1;
    let value: string;
    if (s[j] === '"') {
      let k = j + 1;
      while (k < s.length && s[k] !== '"') k += s[k] === '\\' ? 2 : 1;
      if (k >= s.length) break;
      try {
        value = JSON.parse(s.slice(j, k + 1)) as string;
      } catch {
        break;
      }
      j = k + 1;
      if (j < s.length && !s.startsWith(', ', j)) break;
    } else {
      const end = s.indexOf(', ', j);
      value = s.slice(j, end < 0 ? s.length : end);
      j = end < 0 ? s.length : end;
    }
    out.push({ type, value });
    i = j < s.length ? j + 2 : j;
  }
  return out;
}

/** How an identity is shown and counted: the CN, else `uri:<first URI SAN>`, else `dns:<first DNS SAN>`. */
export function identityName(id: { cn: string | undefined; uris?: readonly string[] | undefined; dnsNames?: readonly string[] | undefined }): string {
  if (id.cn !== undefined) return id.cn;
  if (id.uris?.length) return `uri:${id.uris[0]}`;
  return `dns:${id.dnsNames?.[0] ?? ''}`;
}

/** The SANs an identity can be matched on, as `uri:...` and `dns:...` (audit lines, SHOW IDENTITIES). */
export function sanList(id: Pick<PeerIdentity, 'uris' | 'dnsNames'>): string[] {
  return [...id.uris.map((u) => `uri:${u}`), ...id.dnsNames.map((d) => `dns:${d}`)];
}

function identityFromCertificate(cert: PeerCertificate): PeerIdentity | undefined {
  const cn = first(cert.subject?.CN) || undefined;
  const uris: string[] = [];
  const dnsNames: string[] = [];
  for (const { type, value } of parseSubjectAltName(cert.subjectaltname)) {
    if (value === '') continue;
    if (type === 'URI') uris.push(value);
    else if (type === 'DNS') dnsNames.push(value.toLowerCase());
  }
  if (cn === undefined && uris.length === 0 && dnsNames.length === 0) return undefined;
  let environment: string | undefined;
  if (cn !== undefined) {
    for (const uri of uris) {
      const parsed = parseIdentityUri(uri);
      if (parsed && parsed.name === cn) {
        environment = parsed.environment;
        break;
      }
    }
    // Without a CN the OU says nothing pgmoat wrote: a SAN-only certificate has no environment.
    environment ??= first(cert.subject?.OU);
  }
  return {
    cn,
    environment,
    uris,
    dnsNames,
    serial: normalizeSerial(cert.serialNumber),
    fingerprint256: cert.fingerprint256,
    notAfter: new Date(cert.valid_to),
    notBefore: new Date(cert.valid_from),
    issuerCn: first(cert.issuer?.CN),
  };
}

/** What pgmoat reads of a client certificate once: who it is. */
export interface CertificateFacts {
  /** undefined when the certificate names neither a CN nor a URI or DNS SAN. */
  readonly identity: PeerIdentity | undefined;
}

const UNREAD = Symbol('unread');

/**
 * A certificate whose facts are known: the cache entry itself, handed out by peerCertificate and
 * taken back by peerCertificateUsage and chainIssuerSerials (their fields are this module's).
 */
export interface KnownCertificate extends CertificateFacts {
  /** Its purpose extensions (cert-usage.ts); UNREAD until certificateUsage first asks. */
  usage: CertUsage | undefined | typeof UNREAD;
  /** The identity's issuerSerials (the same array), filled once by chainIssuerSerials. */
  readonly issuers: string[];
  issuersRead: boolean;
}

/**
 * Facts already read, by certificate fingerprint (SHA-256 of the DER): sessions of one
 * certificate share one identity object, and its fields (URI SANs, dates, purpose extensions)
 * are parsed once. A connection's certificate is looked up by the fingerprint of
 * getPeerX509Certificate(), and Node's full object (getPeerCertificate(false): subject, SANs,
 * dates, three fingerprints) is built only on a miss. On Node 24 (OpenSSL 3.5) the first call on a
 * connection costs 18-20 µs for getPeerX509Certificate().fingerprint256 against 60-63 µs for
 * getPeerCertificate(false) (600 mutual-TLS connections, ECDSA P-256, interleaved, medians; on
 * Node 20 / OpenSSL 3.0 the order was the other way round, 124 against 42 µs, because its
 * X509Certificate decoded the public key again).
 *
 * The purpose extensions come from the DER through @peculiar/asn1-schema, which decodes the
 * whole certificate (asn1js builds a tree of every element and copies values as it reads them):
 * 0.5 to 0.7 ms of CPU per certificate on a miss, where the hand-written DER walk it replaced took
 * 2 µs (Node 20, pgmoat client certificates with EC P-256 and RSA-2048 keys, on the shared 2-core
 * machine, 2026-12; `npx tsx bench/experiments/cert-usage-cost.ts`). Nothing on a hit. Hence the
 * usage is read only when asked for (certificateUsage): for a certificate whose chain verified, or
 * whose purpose OpenSSL refused, and not for every foreign or expired certificate a peer presents.
 */
const byFingerprint = new Map<string, KnownCertificate>();
const CACHE_LIMIT = 4096;

function entryFor(fingerprint: string | undefined, read: () => PeerCertificate | null | undefined): KnownCertificate | undefined {
  if (!fingerprint) return undefined;
  const hit = byFingerprint.get(fingerprint);
  if (hit !== undefined) return hit;
  const cert = read();
  // Node returns an empty object (or null) when the peer sent no certificate.
  if (!cert || cert.fingerprint256 !== fingerprint) return undefined;
  const issuers: string[] = [];
  const parsed = identityFromCertificate(cert);
  const identity = parsed && { ...parsed, issuerSerials: issuers };
  const entry: KnownCertificate = { identity, usage: UNREAD, issuers, issuersRead: false };
  // Oldest first out: a Map iterates in insertion order.
  if (byFingerprint.size >= CACHE_LIMIT) byFingerprint.delete(byFingerprint.keys().next().value!);
  byFingerprint.set(fingerprint, entry);
  return entry;
}

function usageOf(entry: KnownCertificate, der: () => Buffer): CertUsage | undefined {
  if (entry.usage === UNREAD) entry.usage = tryReadCertUsage(der());
  return entry.usage;
}

/** The facts of a certificate Node handed over; undefined when the peer sent none. */
export function certificateFacts(cert: PeerCertificate | null | undefined): CertificateFacts | undefined {
  return entryFor(cert?.fingerprint256, () => cert);
}

/**
 * The purpose extensions of a certificate Node handed over, read on the first call for it;
 * undefined when there is no certificate or its extensions cannot be read (usageProblem refuses
 * both as 'unreadable').
 */
export function certificateUsage(cert: PeerCertificate | null | undefined): CertUsage | undefined {
  const entry = entryFor(cert?.fingerprint256, () => cert);
  return entry && usageOf(entry, () => cert!.raw);
}

/**
 * The certificate the peer of a TLS socket sent, with its facts, read as cheaply as Node allows
 * (see above); undefined when it sent none. What the handshake check uses, once per connection.
 */
export function peerCertificate(socket: TLSSocket): KnownCertificate | undefined {
  return entryFor(socket.getPeerX509Certificate()?.fingerprint256, () => socket.getPeerCertificate(false));
}

/** peerCertificate's purpose extensions, read on the first call for that certificate. */
export function peerCertificateUsage(socket: TLSSocket, cert: KnownCertificate): CertUsage | undefined {
  return usageOf(cert, () => socket.getPeerX509Certificate()!.raw);
}

/**
 * The serials of the CA certificates above the peer's certificate, issuer first, as Node builds
 * the chain (the certificates the client sent, completed from the trusted CA bundle; issuers are
 * matched by name and key identifier, so a certificate's issuer is the CA whose key signed it).
 * Read with getPeerCertificate(true) on the first verified handshake of a certificate only (it
 * costs a JavaScript object per chain member), then kept with its facts and set on its identity.
 * Call it only once the chain verified. The self-signed root ends the walk and is included.
 */
export function chainIssuerSerials(socket: TLSSocket, entry: KnownCertificate): readonly string[] {
  if (entry.issuersRead) return entry.issuers;
  const serials: string[] = [];
  let at: DetailedPeerCertificate | undefined = socket.getPeerCertificate(true);
  // Node links a self-signed root to itself; the bound guards against any other cycle.
  for (let depth = 0; at && depth < 16; depth++) {
    const next: DetailedPeerCertificate | undefined = at.issuerCertificate;
    if (!next || next === at || next.fingerprint256 === at.fingerprint256) break;
    serials.push(normalizeSerial(next.serialNumber));
    at = next;
  }
  // A resumed session may come without the chain: nothing is kept, the next full handshake reads it.
  if (serials.length === 0) return serials;
  entry.issuers.push(...serials);
  entry.issuersRead = true;
  return entry.issuers;
}
