/**
 * Renewal authenticated by the current certificate (the model of step-ca's `renew`): whoever
 * holds a valid certificate of this CA may get a new one for a new key, with exactly the same
 * identity. No sockets here: the listener (src/renewal/) hands over the DER of the peer
 * certificate it received and the body of the request.
 *
 * The TLS layer's verdict is not trusted on its own: the chain is checked again here against the
 * CA key (so a certificate of another CA with the same CN is refused whatever the listener did),
 * the certificate must be the one the inventory holds for its serial, neither the inventory nor
 * the CRL may list it as revoked, and it must be within its validity (plus `expiredGraceMs`).
 * The last checks are repeated under the CA lock, so a revocation that lands between the request
 * and the signature wins.
 */
import { readFileSync } from 'node:fs';
import * as x509 from './x509.js';
import { PgmoatError } from '../util/errors.js';
import { normalizeSerial } from '../util/serial.js';
import type { CertificateAuthority } from './authority.js';
import { caPath } from './ca-layout.js';
import { withCaTransaction } from './ca-transaction.js';
import { certificatePem, fingerprint256 } from './certificate-profiles.js';
import { issuedEntry, markSuperseded, unusedSerial, type InventoryEntry } from './inventory.js';
import { loadInventory } from './inventory-store.js';
import { readRenewalCsr } from './renewal-csr.js';
import { renewedValidity } from './validity.js';
import { pemBlocks } from '@pgmoat/client/internal';

const OID_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

export interface RenewalPolicy {
  /** How long after notAfter a certificate may still renew; 0 (the default) means never. */
  expiredGraceMs: number;
}

/** The identity a request proved, known once the certificate checked out. */
export interface RenewalIdentity {
  cn: string;
  environment: string;
  serial: string;
}

export interface AuthenticatedPeer {
  identity: RenewalIdentity;
  cert: x509.X509Certificate;
}

export interface Renewed {
  identity: RenewalIdentity;
  oldSerial: string;
  serial: string;
  notBefore: Date;
  notAfter: Date;
  /** The new certificate, PEM. */
  certPem: string;
  /** The new certificate followed by the CA certificate: what a client presents and trusts. */
  chainPem: string;
}

function refuse(code: 'RENEWAL_CERT_REQUIRED' | 'RENEWAL_UNKNOWN_CA' | 'RENEWAL_CERT_UNKNOWN' | 'RENEWAL_REVOKED' | 'RENEWAL_EXPIRED' | 'RENEWAL_NOT_YET_VALID' | 'RENEWAL_NOT_CLIENT', message: string): PgmoatError {
  return new PgmoatError(code, message);
}

/** Serials the CA's current crl.pem lists, in every CRL it holds; empty when there is no CRL yet. */
function crlSerials(ca: CertificateAuthority): Set<string> {
  let pem: string;
  try {
    pem = readFileSync(caPath(ca.dir, 'crl'), 'utf8');
  } catch {
    return new Set();
  }
  const out = new Set<string>();
  for (const block of pemBlocks(pem).filter((b) => b.label === 'X509 CRL')) {
    for (const e of new x509.X509Crl(Uint8Array.from(block.der)).entries) out.add(normalizeSerial(e.serialNumber));
  }
  return out;
}

function isClientCertificate(cert: x509.X509Certificate): boolean {
  if (cert.getExtension(x509.BasicConstraintsExtension)?.ca) return false;
  const eku = cert.getExtension(x509.ExtendedKeyUsageExtension);
  return eku !== null && eku.usages.map(String).includes(OID_CLIENT_AUTH);
}

/** The inventory entry of this very certificate, or a refusal saying why it may not renew. */
function checkStanding(ca: CertificateAuthority, entries: readonly InventoryEntry[], cert: x509.X509Certificate, serial: string, now: Date, policy: RenewalPolicy): InventoryEntry {
  const entry = entries.find((e) => e.serial === serial);
  const pem = certificatePem(cert);
  if (!entry || entry.fingerprint256 !== fingerprint256(pem)) {
    throw refuse('RENEWAL_CERT_UNKNOWN', `certificate ${serial} is not in the inventory of this CA; it cannot renew (issue one with pgmoat issue)`);
  }
  if (entry.status === 'revoked' || crlSerials(ca).has(serial)) {
    throw refuse('RENEWAL_REVOKED', `certificate ${serial} is revoked; it cannot renew (issue a new one with pgmoat issue)`);
  }
  if (entry.kind !== 'client' || !isClientCertificate(cert)) {
    throw refuse('RENEWAL_NOT_CLIENT', `certificate ${serial} is not a client certificate; only client certificates renew here`);
  }
  if (now < cert.notBefore) throw refuse('RENEWAL_NOT_YET_VALID', `certificate ${serial} is not valid before ${cert.notBefore.toISOString()}`);
  if (now.getTime() > cert.notAfter.getTime() + policy.expiredGraceMs) {
    const grace = policy.expiredGraceMs > 0 ? ', beyond renewal.expired_grace' : '';
    throw refuse('RENEWAL_EXPIRED', `certificate ${serial} expired at ${cert.notAfter.toISOString()}${grace}; issue a new one with pgmoat issue`);
  }
  return entry;
}

export class RenewalService {
  private opened: CertificateAuthority;

  constructor(
    ca: CertificateAuthority,
    readonly policy: RenewalPolicy,
    /**
     * Opens the CA directory again (with its passphrase). When given, a ca-bundle.crt that no
     * longer matches the CA in memory (pgmoat ca rotate-intermediate or revoke-intermediate ran)
     * makes the service reopen it before a request, so that it renews from the new intermediate.
     */
    private readonly reopen?: () => Promise<CertificateAuthority>,
  ) {
    this.opened = ca;
  }

  get ca(): CertificateAuthority {
    return this.opened;
  }

  /** Follows a rotation or a revoked intermediate (see `reopen`). */
  private async refresh(): Promise<void> {
    if (!this.reopen || this.opened.chainPem === '') return;
    let bundle: string;
    try {
      bundle = readFileSync(caPath(this.opened.dir, 'caBundle'), 'utf8');
    } catch {
      return;
    }
    if (bundle !== this.opened.bundlePem) this.opened = await this.reopen();
  }

  /** The CA bundle clients and gateways trust (PEM). */
  caBundlePem(): string {
    // A two-level CA: the root and the intermediates in force, as a gateway's tls.ca (ca-bundle.crt).
    return this.ca.bundlePem;
  }

  /** The current CRL as written by the CA (PEM, label X509 CRL). */
  crlPem(): string {
    return readFileSync(caPath(this.ca.dir, 'crl'), 'utf8');
  }

  /**
   * Who the peer certificate (DER, as the TLS layer received it) proves the client is; a
   * PgmoatError with a RENEWAL_* code when it proves nothing.
   */
  async authenticate(peerDer: Uint8Array | undefined, now = new Date()): Promise<AuthenticatedPeer> {
    if (!peerDer || peerDer.length === 0) throw refuse('RENEWAL_CERT_REQUIRED', 'renewal needs the current client certificate: none was sent');
    await this.refresh();
    let cert: x509.X509Certificate;
    try {
      cert = new x509.X509Certificate(Uint8Array.from(peerDer));
    } catch {
      throw refuse('RENEWAL_UNKNOWN_CA', 'the client certificate cannot be parsed');
    }
    // The current intermediate, or one a rotation retired: its certificates renew from the current one.
    let signedBy: x509.X509Certificate | undefined;
    for (const issuer of [this.ca.cert, ...this.ca.retired.map((r) => r.cert)]) {
      if (!Buffer.from(cert.issuerName.toArrayBuffer()).equals(Buffer.from(issuer.subjectName.toArrayBuffer()))) continue;
      try {
        if (await cert.verify({ publicKey: issuer.publicKey, signatureOnly: true })) {
          signedBy = issuer;
          break;
        }
      } catch {
        // not this one
      }
    }
    if (!signedBy) throw refuse('RENEWAL_UNKNOWN_CA', 'the client certificate was not issued by this CA');
    const issuerSerial = normalizeSerial(signedBy.serialNumber);
    if (this.ca.retired.some((r) => r.revoked && r.serial === issuerSerial)) {
      throw refuse('RENEWAL_REVOKED', `the intermediate ${issuerSerial} that issued this certificate is revoked; it cannot renew (issue a new one with pgmoat issue)`);
    }
    const serial = normalizeSerial(cert.serialNumber);
    const entry = checkStanding(this.ca, (await loadInventory(this.ca.dir)).certificates, cert, serial, now, this.policy);
    return { identity: { cn: entry.name, environment: entry.environment, serial }, cert };
  }

  /**
   * Signs the CSR's key with the identity of the authenticated certificate and records it in the
   * inventory, under the CA lock. The lifetime is the old certificate's.
   */
  async renew(peer: AuthenticatedPeer, csrBody: Uint8Array | string): Promise<Renewed> {
    const csr = await readRenewalCsr(csrBody, peer.cert);
    const old = peer.cert;
    const { value } = await withCaTransaction(this.ca, async (tx) => {
      checkStanding(this.ca, tx.inventory.certificates, old, peer.identity.serial, tx.now, this.policy);
      const { notBefore, notAfter } = renewedValidity(old, tx.now, this.ca.cert.notAfter);
      const serial = unusedSerial(tx.inventory);
      const san = old.getExtension(x509.SubjectAlternativeNameExtension);
      const cert = await x509.X509CertificateGenerator.create({
        serialNumber: serial,
        subject: old.subjectName.toString(),
        issuer: this.ca.cert.subjectName.toString(),
        notBefore,
        notAfter,
        publicKey: csr.publicKey,
        signingKey: this.ca.key,
        signingAlgorithm: this.ca.algorithm,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth]),
          // Copied as it was signed before: the identity (CN, environment URI, any other SAN) is the old one.
          ...(san ? [new x509.Extension(san.type, san.critical, san.value)] : []),
          await x509.SubjectKeyIdentifierExtension.create(csr.publicKey),
          await x509.AuthorityKeyIdentifierExtension.create(this.ca.cert),
        ],
      });
      const certPem = certificatePem(cert);
      markSuperseded(
        tx.inventory.certificates.filter((e) => e.serial === peer.identity.serial),
        serial,
        tx.now,
      );
      tx.inventory.certificates.push(
        issuedEntry({ kind: 'client', name: peer.identity.cn, environment: peer.identity.environment, serial, notBefore, notAfter, certPem }),
      );
      return { serial, notBefore, notAfter, certPem };
    });
    return {
      identity: peer.identity,
      oldSerial: peer.identity.serial,
      serial: value.serial,
      notBefore: value.notBefore,
      notAfter: value.notAfter,
      certPem: value.certPem,
      // The leaf, the intermediate of a two-level CA, then the root (which clients drop).
      chainPem: value.certPem + this.ca.chainPem + this.ca.certPem,
    };
  }
}
