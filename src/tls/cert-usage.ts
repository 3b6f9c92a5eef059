/**
 * Whether a client certificate is meant for client authentication. OpenSSL's chain verification
 * (Node's `authorized`) does not decide this for us: its `sslclient` purpose (checked on Node 20,
 * OpenSSL 3.0) accepts a leaf with basicConstraints CA:TRUE, a leaf without extendedKeyUsage, and
 * a keyUsage of keyAgreement alone. pgmoat requires, of a client certificate:
 *
 * - not a CA: basicConstraints cA must be absent or FALSE (RFC 5280 4.2.1.9: a CA key signs
 *   certificates; a CA certificate used as a client identity is a key that can mint others);
 * - keyUsage, when present, asserts digitalSignature (RFC 5280 4.2.1.3: "entity authentication").
 *   Client authentication in TLS 1.2 (ECDHE/DHE) and 1.3 is always a CertificateVerify signature;
 *   the fixed-(EC)DH client certificates that keyAgreement served are gone from OpenSSL;
 * - extendedKeyUsage contains id-kp-clientAuth. anyExtendedKeyUsage alone is not enough (RFC 5280
 *   4.2.1.12 lets an application that needs a given purpose refuse it; OpenSSL refuses it too).
 *   A certificate without extendedKeyUsage at all is refused unless the listener allows it
 *   (`tls.allow_client_certs_without_eku`, `admin.http.tls.allow_client_certs_without_eku`).
 *
 * The certificate is the DER Node already hands us with getPeerCertificate(false) (its `raw`),
 * decoded by @peculiar/asn1-schema with @peculiar/asn1-x509's schemas (the library pgmoat's CA is
 * built on). What those leave loose is checked here: no extension twice (RFC 5280 4.2), and an
 * extendedKeyUsage that is nothing but OIDs. Decoding a whole certificate this way costs far more
 * than the handshake-path reads around it (peer-identity.ts has the figure), so it runs once per
 * certificate, and only for one whose chain verified or whose purpose OpenSSL refused.
 */
import type { UsageProblem } from '../util/cert-refusal.js';
import { AsnConvert, type IAsnParseOptions } from '@peculiar/asn1-schema';
import {
  BasicConstraints,
  Certificate,
  ExtendedKeyUsage,
  KeyUsage,
  KeyUsageFlags,
  id_ce_basicConstraints,
  id_ce_extKeyUsage,
  id_ce_keyUsage,
  id_kp_clientAuth,
} from '@peculiar/asn1-x509';

/** keyUsage bits as @peculiar/asn1-x509 numbers them (bit 0 = digitalSignature). */
export const KEY_USAGE = KeyUsageFlags;

export const OID_CLIENT_AUTH = id_kp_clientAuth;

export interface CertUsage {
  /** basicConstraints cA is TRUE. */
  readonly ca: boolean;
  /** keyUsage bits (KEY_USAGE); undefined when the certificate has no keyUsage extension. */
  readonly keyUsage: number | undefined;
  /** extendedKeyUsage OIDs, dotted; undefined when the certificate has no extendedKeyUsage extension. */
  readonly extendedKeyUsage: readonly string[] | undefined;
}

/** Why a certificate is not for client use; each is a distinct audit reason (access/audit.ts). */
export type { UsageProblem };

export interface UsagePolicy {
  /** tls.allow_client_certs_without_eku: accept a certificate that has no extendedKeyUsage at all. */
  allowWithoutEku: boolean;
}

/** A certificate whose purpose extensions cannot be told apart: refused as 'unreadable'. */
class CertUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CertUsageError';
  }
}

// Embedded BIT/OCTET STRING contents are decoded on demand (the three extensions), not up front.
const PARSE: IAsnParseOptions = { berOptions: { parseEmbedded: false } };

/**
 * The named bits 0 (digitalSignature) to 8 (decipherOnly). Not KeyUsage.toNumber(): it reads a
 * keyUsage without bits as NaN, and a long BIT STRING through a float that drops its low bits.
 */
function keyUsageFlags(ku: KeyUsage): number {
  const bytes = new Uint8Array(ku.value);
  let flags = 0;
  for (let bit = 0; bit < 9 && bit >> 3 < bytes.length; bit++) {
    if (bytes[bit >> 3]! & (0x80 >> (bit & 7))) flags |= 1 << bit;
  }
  return flags;
}

/**
 * The extendedKeyUsage OIDs. The library turns any element of the SEQUENCE into a string (an
 * INTEGER 5 into "5", a RELATIVE-OID into dotted arcs that can spell clientAuth): only a value
 * that encodes back to the very same bytes is a list of OIDs.
 */
function ekuOids(value: ArrayBuffer): string[] {
  const eku = AsnConvert.parse(value, ExtendedKeyUsage, PARSE);
  if (!Buffer.from(AsnConvert.serialize(eku)).equals(Buffer.from(value))) throw new CertUsageError('extendedKeyUsage is not a DER list of OIDs');
  return [...eku];
}

/** Reads the purpose extensions of a DER certificate. Throws when it cannot. */
export function readCertUsage(der: Uint8Array): CertUsage {
  const cert = AsnConvert.parse(der, Certificate, PARSE);
  let ca = false;
  let keyUsage: number | undefined;
  let extendedKeyUsage: string[] | undefined;
  const seen = new Set<string>();
  for (const ext of cert.tbsCertificate.extensions ?? []) {
    // RFC 5280 4.2: at most one instance of an extension; two could say different things.
    if (seen.has(ext.extnID)) throw new CertUsageError(`extension ${ext.extnID} appears twice`);
    seen.add(ext.extnID);
    const value = ext.extnValue.buffer;
    if (ext.extnID === id_ce_basicConstraints) ca = AsnConvert.parse(value, BasicConstraints, PARSE).cA;
    else if (ext.extnID === id_ce_keyUsage) keyUsage = keyUsageFlags(AsnConvert.parse(value, KeyUsage, PARSE));
    else if (ext.extnID === id_ce_extKeyUsage) extendedKeyUsage = ekuOids(value);
  }
  return { ca, keyUsage, extendedKeyUsage };
}

/**
 * readCertUsage, or undefined when the DER cannot be read (which usageProblem refuses). Whatever
 * the decoder throws on a malformed certificate (its errors have no common class) means "cannot
 * tell", never an exception out of the handshake path.
 */
export function tryReadCertUsage(der: Uint8Array | undefined): CertUsage | undefined {
  if (!der || der.length === 0) return undefined;
  try {
    return readCertUsage(der);
  } catch {
    return undefined;
  }
}

/** The first reason `usage` is not for client use, or undefined when it is. */
export function usageProblem(usage: CertUsage | undefined, policy: UsagePolicy): UsageProblem | undefined {
  if (!usage) return 'unreadable';
  if (usage.ca) return 'ca-certificate';
  if (usage.keyUsage !== undefined && (usage.keyUsage & KEY_USAGE.digitalSignature) === 0) return 'no-digital-signature';
  if (usage.extendedKeyUsage === undefined) return policy.allowWithoutEku ? undefined : 'no-extended-key-usage';
  if (!usage.extendedKeyUsage.includes(OID_CLIENT_AUTH)) return 'no-client-auth';
  return undefined;
}

