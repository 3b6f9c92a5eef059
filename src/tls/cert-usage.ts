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
 *   A certificate without extendedKeyUsage at all is refused unless
 *   `tls.allow_client_certs_without_eku` is on.
 *
 * Only these three extensions are read, straight from the DER Node already hands us with
 * getPeerCertificate(false) (its `raw`), so the handshake path needs no X509Certificate object.
 */
import { DerError, TAG, children, expectTlv, oidEquals, oidString, valueOf, type Tlv } from './der.js';

/** keyUsage bits as @peculiar/x509's KeyUsageFlags number them (bit 0 = digitalSignature). */
export const KEY_USAGE = {
  digitalSignature: 1,
  nonRepudiation: 2,
  keyEncipherment: 4,
  dataEncipherment: 8,
  keyAgreement: 16,
  keyCertSign: 32,
  cRLSign: 64,
  encipherOnly: 128,
  decipherOnly: 256,
} as const;

export const OID_CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

const OID_BASIC_CONSTRAINTS = [0x55, 0x1d, 0x13];
const OID_KEY_USAGE = [0x55, 0x1d, 0x0f];
const OID_EXT_KEY_USAGE = [0x55, 0x1d, 0x25];

export interface CertUsage {
  /** basicConstraints cA is TRUE. */
  readonly ca: boolean;
  /** keyUsage bits (KEY_USAGE); undefined when the certificate has no keyUsage extension. */
  readonly keyUsage: number | undefined;
  /** extendedKeyUsage OIDs, dotted; undefined when the certificate has no extendedKeyUsage extension. */
  readonly extendedKeyUsage: readonly string[] | undefined;
}

/** Why a certificate is not for client use; each is a distinct audit reason (gateway/audit.ts). */
export type UsageProblem = 'ca-certificate' | 'no-digital-signature' | 'no-extended-key-usage' | 'no-client-auth' | 'unreadable';

export interface UsagePolicy {
  /** tls.allow_client_certs_without_eku: accept a certificate that has no extendedKeyUsage at all. */
  allowWithoutEku: boolean;
}

function keyUsageBits(bits: Uint8Array): number {
  // BIT STRING: the first byte counts unused bits; bit n is the n-th bit from the left.
  if (bits.length === 0 || bits[0]! > 7) throw new DerError('bad keyUsage');
  let out = 0;
  for (let n = 0; n < 9 && 1 + (n >> 3) < bits.length; n++) {
    if (bits[1 + (n >> 3)]! & (0x80 >> (n & 7))) out |= 1 << n;
  }
  return out;
}

function basicConstraintsCa(buf: Uint8Array, value: Tlv): boolean {
  const seq = expectTlv(buf, value.valueStart, TAG.SEQUENCE, value.end);
  const first = children(buf, seq)[0];
  if (!first || first.tag !== TAG.BOOLEAN) return false; // cA DEFAULT FALSE
  if (first.end - first.valueStart !== 1) throw new DerError('bad BOOLEAN');
  return buf[first.valueStart] !== 0;
}

function ekuOids(buf: Uint8Array, value: Tlv): string[] {
  const seq = expectTlv(buf, value.valueStart, TAG.SEQUENCE, value.end);
  return children(buf, seq).map((t) => {
    if (t.tag !== TAG.OID) throw new DerError('extendedKeyUsage holds a non-OID');
    return oidString(valueOf(buf, t));
  });
}

/** Reads the purpose extensions of a DER certificate. Throws DerError when it cannot. */
export function readCertUsage(der: Uint8Array): CertUsage {
  const cert = expectTlv(der, 0, TAG.SEQUENCE);
  const tbs = expectTlv(der, cert.valueStart, TAG.SEQUENCE, cert.end);
  const extensions = children(der, tbs).find((t) => t.tag === TAG.CONTEXT_3);
  let ca = false;
  let keyUsage: number | undefined;
  let extendedKeyUsage: string[] | undefined;
  if (!extensions) return { ca, keyUsage, extendedKeyUsage };
  const list = expectTlv(der, extensions.valueStart, TAG.SEQUENCE, extensions.end);
  const seen = new Set<string>();
  for (const ext of children(der, list)) {
    if (ext.tag !== TAG.SEQUENCE) throw new DerError('extension is not a SEQUENCE');
    const parts = children(der, ext);
    const id = parts[0];
    const value = parts[parts.length - 1];
    if (!id || id.tag !== TAG.OID || !value || value.tag !== TAG.OCTET_STRING || parts.length > 3) throw new DerError('malformed extension');
    const which = oidEquals(der, id, OID_BASIC_CONSTRAINTS) ? 'bc' : oidEquals(der, id, OID_KEY_USAGE) ? 'ku' : oidEquals(der, id, OID_EXT_KEY_USAGE) ? 'eku' : undefined;
    if (!which) continue;
    // RFC 5280 4.2: at most one instance of an extension; two could say different things.
    if (seen.has(which)) throw new DerError('duplicate extension');
    seen.add(which);
    if (which === 'bc') ca = basicConstraintsCa(der, value);
    else if (which === 'ku') keyUsage = keyUsageBits(valueOf(der, expectTlv(der, value.valueStart, TAG.BIT_STRING, value.end)));
    else extendedKeyUsage = ekuOids(der, value);
  }
  return { ca, keyUsage, extendedKeyUsage };
}

/** readCertUsage, or undefined when the DER cannot be read (which usageProblem refuses). */
export function tryReadCertUsage(der: Uint8Array | undefined): CertUsage | undefined {
  if (!der || der.length === 0) return undefined;
  try {
    return readCertUsage(der);
  } catch (err) {
    if (err instanceof DerError) return undefined;
    throw err;
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

/** What the client is told, after "client certificate is not for client use". */
export const USAGE_DETAILS: Record<UsageProblem, string> = {
  'ca-certificate': 'it is a CA certificate: basicConstraints CA:TRUE',
  'no-digital-signature': 'its key usage lacks digitalSignature',
  'no-extended-key-usage': 'it has no extended key usage; clientAuth is required',
  'no-client-auth': 'it lacks the clientAuth extended key usage',
  unreadable: 'its extensions cannot be read',
};
