/**
 * The client side of TLS (clients -> pgmoat): one tls.Server that never listens. The listener
 * answers the SSLRequest (or sees a direct-TLS ClientHello) and hands the raw socket over with
 * `server.emit('connection', socket)`; only a tls.Server closes out a client whose certificate
 * did not verify, where a bare TLSSocket would let it talk.
 *
 * Node never aborts a handshake over a bad client certificate; pgmoat checks `authorized`, the
 * serial against the CRL and the purpose right after it, and nothing of a refused client ever
 * reaches a pool or an upstream.
 */
import { createServer, type Server, type TLSSocket, type SecureContextOptions } from 'node:tls';
import { createHmac, randomBytes } from 'node:crypto';
import type { RevocationCheck } from '../revocation/source.js';
import { chainIssuerSerials, peerCertificate, peerCertificateUsage, type PeerIdentity } from './peer-identity.js';
import { revokedInChain } from '../revocation/chain.js';
import { usageProblem, type UsagePolicy, type UsageProblem } from './cert-usage.js';
import { certRefusalMessage, type CertRefusal } from '../util/cert-refusal.js';
import type { TlsMode } from './tls-mode.js';

export interface ClientTlsSettings {
  mode: TlsMode;
  cert: string;
  key: string;
  passphrase?: string | undefined;
  /** PEM bundle of CAs that client certificates must chain to. */
  ca?: string | undefined;
  minVersion: 'TLSv1.2' | 'TLSv1.3';
  maxVersion?: 'TLSv1.2' | 'TLSv1.3' | undefined;
  /** OpenSSL cipher list for TLS 1.2. */
  ciphers?: string | undefined;
  /** TLS 1.3 suites, colon-separated. */
  ciphersuites?: string | undefined;
  /** Key exchange groups, colon-separated (OpenSSL names, e.g. X25519:P-256). */
  groups?: string | undefined;
  sessionTickets: boolean;
}

const ALPN_POSTGRESQL = 'postgresql';

export function requiresClientCertificate(mode: TlsMode): boolean {
  return mode === 'verify-ca' || mode === 'verify-full';
}

export function secureContextOptions(s: ClientTlsSettings): SecureContextOptions {
  const ciphers = [s.ciphersuites, s.ciphers].filter((x): x is string => !!x).join(':');
  return {
    cert: s.cert,
    key: s.key,
    ...(s.passphrase !== undefined ? { passphrase: s.passphrase } : {}),
    ...(s.ca && requiresClientCertificate(s.mode) ? { ca: s.ca } : {}),
    minVersion: s.minVersion,
    ...(s.maxVersion ? { maxVersion: s.maxVersion } : {}),
    ...(ciphers ? { ciphers } : {}),
    ...(s.groups ? { ecdhCurve: s.groups } : {}),
    // Sessions resumed from another context (before a reload) must not carry over.
    sessionIdContext: 'pgmoat',
  };
}

export function createClientTlsServer(s: ClientTlsSettings, handshakeTimeoutMs: number): Server {
  const server = createServer({
    ...secureContextOptions(s),
    requestCert: requiresClientCertificate(s.mode),
    // pgmoat refuses unverified clients itself, right after the handshake, so that it can say why.
    rejectUnauthorized: false,
    // The only protocol, chosen by a callback rather than `ALPNProtocols: ['postgresql']`: Node
    // copies an ALPNProtocols buffer into every socket's options from its 8 KB Buffer pool, and
    // that 11-byte copy keeps a pool slab alive for as long as the connection lives (about
    // 1.3 KB per idle client). Same outcome: a client that offers ALPN without "postgresql" gets
    // a fatal alert; one that offers none is not asked (alpnProtocol is false; see client-accept).
    ALPNCallback: ({ protocols }: { protocols: string[] }) => (protocols.includes(ALPN_POSTGRESQL) ? ALPN_POSTGRESQL : undefined),
    handshakeTimeout: handshakeTimeoutMs > 0 ? handshakeTimeoutMs : 120_000,
    ...(s.sessionTickets ? {} : { secureOptions: 0x4000 /* SSL_OP_NO_TICKET */ }),
  });
  return server;
}

/** The secret ticket keys derive from: random per process, shared by the workers of a cluster. */
export function newTicketSecret(): Buffer {
  return randomBytes(32);
}

/**
 * The TLS ticket keys for what decides whether a client may resume: the CA bundle its chain was
 * verified against and the revoked serials. An HMAC under the ticket secret, so that
 * - a new revoked serial gives new keys: tickets issued before it no longer resume;
 * - a reload that changes the CA bundle does too: a resumed session skips chain verification,
 *   so a ticket must not outlive the trust it was issued under; a reload that changes neither
 *   keeps the keys, and clients keep resuming across it;
 * - every worker of a cluster, sharing the secret and reading the same files, arrives at the
 *   same keys, so a ticket one worker issued resumes on any other.
 */
export function ticketKeysFor(secret: Buffer, caBundle: string, revoked: Iterable<string>): Buffer {
  const mac = createHmac('sha512', secret).update('pgmoat ticket keys\0').update(caBundle).update('\0');
  for (const serial of [...revoked].sort()) mac.update(serial).update('\0');
  return mac.digest().subarray(0, 48);
}

/**
 * Sets the server's ticket keys (see ticketKeysFor). Needed after every setSecureContext too:
 * Node gives a new context random keys.
 */
export function setTicketKeys(server: Server, secret: Buffer, settings: ClientTlsSettings, revoked: Iterable<string>): void {
  server.setTicketKeys(ticketKeysFor(secret, `${settings.mode}\0${settings.ca ?? ''}`, revoked));
}

export type CertCheck =
  | { ok: true; identity: PeerIdentity | undefined }
  | {
      ok: false;
      reason: CertRefusal;
      message: string;
      identity: PeerIdentity | undefined;
      /** With 'not-for-client-use': which purpose check failed (the audit reason). */
      usage?: UsageProblem | undefined;
    };

function classify(code: string | undefined): CertRefusal {
  switch (code) {
    case 'CERT_HAS_EXPIRED':
      return 'expired';
    case 'CERT_NOT_YET_VALID':
      return 'not-yet-valid';
    case 'CERT_REVOKED':
      return 'revoked';
    case 'INVALID_PURPOSE':
      return 'not-for-client-use';
    case 'UNABLE_TO_GET_ISSUER_CERT':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'CERT_SIGNATURE_FAILURE':
      return 'unknown-ca';
    default:
      return 'invalid';
  }
}

/**
 * The verdict on a client's certificate once the handshake is done. In modes that require one,
 * the chain must have verified (Node's `authorized`), it must name a CN (or, when the access
 * configuration matches on SANs, `sanIdentities`, at least a URI or DNS SAN), the serial must not be
 * revoked (checked here on every connection, including resumed sessions), and it must be meant
 * for client use (cert-usage.ts: OpenSSL's chain check lets CA certificates and certificates
 * without extendedKeyUsage through). The certificate is looked up once per connection by its
 * fingerprint; what is read from it is cached by fingerprint (peer-identity.ts), the purpose
 * extensions read only once the chain verified (or OpenSSL refused the purpose).
 */
export function checkClientCertificate(
  socket: TLSSocket,
  mode: TlsMode,
  revocations: RevocationCheck,
  policy: UsagePolicy,
  /**
   * Whether a rule or an identity map matches on URI/DNS SANs (runtime/access-runtime.ts). Only
   * then may a certificate without CN (a SPIFFE X.509-SVID) pass: nothing else could tell which
   * roles it may use, so elsewhere it stays refused as 'no-identity', as before SANs were read.
   */
  sanIdentities = false,
): CertCheck {
  if (!requiresClientCertificate(mode)) return { ok: true, identity: undefined };
  const cert = peerCertificate(socket);
  const identity = cert?.identity;
  const refuse = (reason: CertRefusal, usage?: UsageProblem): CertCheck => ({
    ok: false,
    reason,
    message: certRefusalMessage(reason, usage),
    identity,
    ...(usage ? { usage } : {}),
  });
  if (!socket.authorized) {
    const err = socket.authorizationError as unknown;
    const code = err instanceof Error ? (err as NodeJS.ErrnoException).code ?? err.message : (err as string | null) ?? undefined;
    if (!cert) return refuse('no-certificate');
    const reason = classify(code ?? undefined);
    // OpenSSL's INVALID_PURPOSE does not say which check failed: ours does, when it agrees.
    if (reason === 'not-for-client-use') return refuse(reason, usageProblem(peerCertificateUsage(socket, cert), policy));
    return refuse(reason);
  }
  if (!cert || !identity || (identity.cn === undefined && !sanIdentities)) return refuse('no-identity');
  // The one revocation check of the handshake, against every source (revocation/revocations.ts),
  // for the certificate and every CA above it: a revoked intermediate revokes all it issued.
  chainIssuerSerials(socket, cert);
  if (revokedInChain(revocations, identity)) return refuse('revoked');
  const problem = usageProblem(peerCertificateUsage(socket, cert), policy);
  if (problem) return refuse('not-for-client-use', problem);
  return { ok: true, identity };
}
