/**
 * The three certificate profiles the CA signs: itself, the gateway's server certificate and
 * client certificates. Subject and extensions come from here only, never from a CSR.
 */
import { randomBytes, X509Certificate as NodeX509Certificate } from 'node:crypto';
import * as x509 from './x509.js';
import { environmentUri } from './identity-format.js';
import type { HostName } from './inputs.js';
import type { ExtraSan } from './san.js';
import type { SigningAlgorithm } from './keys.js';
import { pemEncode } from './pem.js';
import type { CryptoKey, CryptoKeyPair } from './webcrypto-types.js';

/** A random positive 127-bit serial as lowercase hex, always 16 bytes long (no leading zero byte). */
export function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f || 0x01;
  return bytes.toString('hex');
}

export interface Signer {
  cert: x509.X509Certificate;
  key: CryptoKey;
  algorithm: SigningAlgorithm;
  /** The name issued certificates carry as O; default the signer's CN (an intermediate passes the root's). */
  caName?: string;
}

/** Anything @peculiar/x509 accepts as a subject public key: a CryptoKey or SPKI DER. */
export type SubjectPublicKey = CryptoKey | ArrayBuffer;

const DAY_MS = 86_400_000;

export async function buildCaCertificate(opts: {
  caName: string;
  keys: CryptoKeyPair;
  algorithm: SigningAlgorithm;
  notBefore: Date;
  days: number;
  /** How many CA levels may follow: 0 when the root signs leaves itself, 1 above an intermediate. */
  pathLength?: number;
}): Promise<x509.X509Certificate> {
  return x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name: [{ CN: [opts.caName] }, { O: ['pgmoat'] }],
    notBefore: opts.notBefore,
    notAfter: new Date(opts.notBefore.getTime() + opts.days * DAY_MS),
    keys: opts.keys,
    signingAlgorithm: opts.algorithm,
    extensions: [
      new x509.BasicConstraintsExtension(true, opts.pathLength ?? 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(opts.keys.publicKey),
    ],
  });
}

/**
 * The issuing intermediate of a two-level CA: signed by the root, may sign leaves and CRLs but no
 * further CA (pathLength 0). Its subject is the root's with OU "issuing CA", so the two differ.
 */
export async function buildIntermediateCertificate(
  root: Signer,
  opts: { caName: string; publicKey: CryptoKey; serial: string; notBefore: Date; notAfter: Date },
): Promise<x509.X509Certificate> {
  return x509.X509CertificateGenerator.create({
    serialNumber: opts.serial,
    subject: [{ CN: [opts.caName] }, { OU: ['issuing CA'] }, { O: ['pgmoat'] }],
    issuer: root.cert.subjectName,
    notBefore: opts.notBefore,
    notAfter: opts.notAfter,
    publicKey: opts.publicKey,
    signingKey: root.key,
    signingAlgorithm: root.algorithm,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(opts.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(root.cert),
    ],
  });
}

export async function buildServerCertificate(
  signer: Signer,
  opts: { hosts: readonly HostName[]; publicKey: SubjectPublicKey; rsa: boolean; serial: string; notBefore: Date; notAfter: Date },
): Promise<x509.X509Certificate> {
  const first = opts.hosts[0]?.value ?? 'localhost';
  return buildLeafCertificate(signer, opts, {
    subject: [{ CN: [first] }, { O: [signer.caName ?? caNameOf(signer.cert)] }],
    keyUsage: x509.KeyUsageFlags.digitalSignature | (opts.rsa ? x509.KeyUsageFlags.keyEncipherment : 0),
    extendedKeyUsage: x509.ExtendedKeyUsage.serverAuth,
    altNames: opts.hosts.map((h) => ({ type: h.type, value: h.value })),
  });
}

export async function buildClientCertificate(
  signer: Signer,
  opts: {
    name: string;
    environment: string;
    publicKey: SubjectPublicKey;
    serial: string;
    notBefore: Date;
    notAfter: Date;
    /** DNS and URI SANs after the pgmoat:// URI (san.ts validated them). */
    extraSans?: readonly ExtraSan[];
    /** Test-only: a certificate a TLS server must refuse as "not for client use". */
    serverAuthOnly?: boolean;
  },
): Promise<x509.X509Certificate> {
  return buildLeafCertificate(signer, opts, {
    subject: [{ CN: [opts.name] }, { OU: [opts.environment] }, { O: [signer.caName ?? caNameOf(signer.cert)] }],
    keyUsage: x509.KeyUsageFlags.digitalSignature,
    extendedKeyUsage: opts.serverAuthOnly ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth,
    altNames: [{ type: 'url', value: environmentUri(opts.environment, opts.name) }, ...(opts.extraSans ?? []).map((s) => ({ type: s.type, value: s.value }))],
  });
}

/**
 * A certificate the CA signs for a server or a client: not a CA, one key usage and one extended
 * key usage (both critical as set here), the names in the SAN, and key identifiers that chain it
 * to the CA.
 */
async function buildLeafCertificate(
  signer: Signer,
  issued: { publicKey: SubjectPublicKey; serial: string; notBefore: Date; notAfter: Date },
  profile: { subject: x509.JsonName; keyUsage: x509.KeyUsageFlags; extendedKeyUsage: string; altNames: x509.JsonGeneralNames },
): Promise<x509.X509Certificate> {
  return x509.X509CertificateGenerator.create({
    serialNumber: issued.serial,
    subject: profile.subject,
    issuer: signer.cert.subjectName,
    notBefore: issued.notBefore,
    notAfter: issued.notAfter,
    publicKey: issued.publicKey,
    signingKey: signer.key,
    signingAlgorithm: signer.algorithm,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(profile.keyUsage, true),
      new x509.ExtendedKeyUsageExtension([profile.extendedKeyUsage]),
      new x509.SubjectAlternativeNameExtension(profile.altNames),
      await x509.SubjectKeyIdentifierExtension.create(issued.publicKey),
      await x509.AuthorityKeyIdentifierExtension.create(signer.cert),
    ],
  });
}

/** The CA's name: its subject CN. Client and server certificates carry it as O. */
export function caNameOf(caCert: x509.X509Certificate): string {
  return caCert.subjectName.getField('CN')[0] ?? 'pgmoat CA';
}

export function certificatePem(cert: x509.X509Certificate): string {
  return pemEncode(cert.rawData, 'CERTIFICATE');
}

/** SHA-256 fingerprint in Node's format (AA:BB:...), the one getPeerCertificate() reports. */
export function fingerprint256(certPem: string): string {
  return new NodeX509Certificate(certPem).fingerprint256;
}
