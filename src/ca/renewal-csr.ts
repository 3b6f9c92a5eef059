/**
 * The CSR of a renewal, read strictly: it must parse, carry its own valid signature and an
 * acceptable key, and it may repeat the identity of the certificate it renews but never change
 * it or ask for more power. The renewed certificate takes its subject and SANs from the old
 * certificate, not from here: these checks exist so that a client asking for something else is
 * told so (a code) rather than silently given what it did not ask for.
 */
import * as x509 from './x509.js';
import { PgmoatError } from '../util/errors.js';
import { pemBlocks } from '@pgmoat/client/internal';
import { webcrypto } from 'node:crypto';
import { checkSubjectPublicKey, DEFAULT_KEY_TYPE, exportPrivateKeyPem, generateKeyPair, signingAlgorithmFor, type KeyType } from './keys.js';
import { keyTypeOfCertificate } from './certificate-facts.js';
import { looksLikePem, pemEncode } from './pem.js';

const CSR_LABELS = ['CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST'];
const OID_SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const OID_ANY_EKU = '2.5.29.37.0';

export interface RenewalCsr {
  /** SPKI DER of the new key. */
  publicKey: ArrayBuffer;
}

function malformed(message: string, cause?: unknown): PgmoatError {
  return new PgmoatError('RENEWAL_CSR_MALFORMED', message, cause === undefined ? {} : { cause });
}

function decode(data: Uint8Array | string): x509.Pkcs10CertificateRequest {
  let der: Uint8Array;
  if (looksLikePem(data)) {
    const text = typeof data === 'string' ? data : Buffer.from(data).toString('latin1');
    const block = pemBlocks(text).find((b) => CSR_LABELS.includes(b.label));
    if (!block) throw malformed('the body holds no PEM CERTIFICATE REQUEST');
    der = block.der;
  } else {
    der = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
  }
  if (der.length === 0) throw malformed('the body is empty: send a PKCS#10 certificate request (PEM or DER)');
  try {
    return new x509.Pkcs10CertificateRequest(Uint8Array.from(der));
  } catch (err) {
    throw malformed('the body cannot be parsed as a PKCS#10 certificate request', err);
  }
}

/** `type:value` of each general name, the form both sides are compared in. */
function nameSet(names: x509.JsonGeneralNames): Set<string> {
  return new Set(names.map((n) => `${n.type}:${n.value}`));
}

function sanNames(ext: x509.SubjectAlternativeNameExtension | null): x509.JsonGeneralNames {
  return ext ? ext.names.toJSON() : [];
}

/** The requested extension of a kind (the CSR's extensionRequest, parsed into typed objects by @peculiar/x509). */
function requested<T extends x509.Extension>(csr: x509.Pkcs10CertificateRequest, kind: abstract new (...args: never[]) => T): T | undefined {
  for (const e of csr.extensions) if (e instanceof kind) return e;
  return undefined;
}

/** Throws RENEWAL_CSR_PURPOSE when the CSR asks for a CA, certificate signing or server use. */
function checkPurpose(csr: x509.Pkcs10CertificateRequest): void {
  const bc = requested(csr, x509.BasicConstraintsExtension);
  if (bc?.ca) throw new PgmoatError('RENEWAL_CSR_PURPOSE', 'the CSR asks for CA:TRUE; a renewed client certificate is never a CA');
  const ku = requested(csr, x509.KeyUsagesExtension);
  if (ku && (ku.usages & (x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign)) !== 0) {
    throw new PgmoatError('RENEWAL_CSR_PURPOSE', 'the CSR asks for keyCertSign or cRLSign; a renewed client certificate signs no certificates');
  }
  const eku = requested(csr, x509.ExtendedKeyUsageExtension);
  const usages = (eku?.usages ?? []).map(String);
  if (usages.includes(OID_SERVER_AUTH) || usages.includes(OID_ANY_EKU)) {
    throw new PgmoatError('RENEWAL_CSR_PURPOSE', 'the CSR asks for serverAuth (or any purpose); a renewed client certificate is for clientAuth only');
  }
}

/**
 * Throws RENEWAL_IDENTITY_CHANGED when the CSR names a subject attribute or a SAN the old
 * certificate does not have. An empty subject and no SAN are fine: the identity is copied.
 */
function checkIdentity(csr: x509.Pkcs10CertificateRequest, old: x509.X509Certificate): void {
  const oldSubject = old.subjectName;
  for (const rdn of csr.subjectName.toJSON()) {
    for (const [attr, values] of Object.entries(rdn)) {
      const allowed = oldSubject.getField(attr);
      for (const v of values) {
        if (!allowed.includes(v)) {
          throw new PgmoatError('RENEWAL_IDENTITY_CHANGED', `the CSR asks for ${attr}=${JSON.stringify(v).slice(0, 80)}, which the current certificate does not have; a renewal keeps the identity`);
        }
      }
    }
  }
  const oldSans = nameSet(sanNames(old.getExtension(x509.SubjectAlternativeNameExtension)));
  for (const name of nameSet(sanNames(requested(csr, x509.SubjectAlternativeNameExtension) ?? null))) {
    if (!oldSans.has(name)) {
      throw new PgmoatError('RENEWAL_IDENTITY_CHANGED', `the CSR asks for the SAN ${JSON.stringify(name).slice(0, 100)}, which the current certificate does not have; a renewal keeps the identity`);
    }
  }
}

/** Reads and checks a renewal CSR against the certificate it renews. */
export async function readRenewalCsr(data: Uint8Array | string, old: x509.X509Certificate): Promise<RenewalCsr> {
  const csr = decode(data);
  try {
    checkSubjectPublicKey(new Uint8Array(csr.publicKey.rawData), 'the CSR');
  } catch (err) {
    throw malformed(err instanceof Error ? err.message : 'the CSR key cannot be used', err);
  }
  let ok: boolean;
  try {
    ok = await csr.verify();
  } catch (err) {
    throw malformed('the CSR has a signature pgmoat cannot check (unsupported algorithm)', err);
  }
  if (!ok) throw malformed('the CSR signature does not verify: it was altered or not signed by its own key');
  checkPurpose(csr);
  checkIdentity(csr, old);
  if (Buffer.from(csr.publicKey.rawData).equals(Buffer.from(old.publicKey.rawData))) {
    throw new PgmoatError('RENEWAL_KEY_REUSED', 'the CSR is for the key of the current certificate; make a new key for each renewal');
  }
  return { publicKey: csr.publicKey.rawData };
}

/**
 * What a renewing client sends: a fresh key of the current key's type and a CSR for it that
 * names only the CN (the service copies the rest of the identity from the current certificate).
 */
export async function makeRenewalRequest(currentCertPem: string, keyType: KeyType | undefined, keyPassphrase?: string): Promise<{ csrPem: string; keyPem: string; publicKeySpki: Buffer }> {
  const type = keyType ?? keyTypeOfCertificate(currentCertPem) ?? DEFAULT_KEY_TYPE;
  const keys = await generateKeyPair(type);
  const cn = new x509.X509Certificate(currentCertPem).subjectName.getField('CN')[0];
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    ...(cn !== undefined ? { name: [{ CN: [cn] }] } : {}),
    keys,
    signingAlgorithm: signingAlgorithmFor(type),
  });
  const publicKeySpki = Buffer.from(await webcrypto.subtle.exportKey('spki', keys.publicKey));
  return { csrPem: pemEncode(csr.rawData, 'CERTIFICATE REQUEST'), keyPem: exportPrivateKeyPem(keys.privateKey, keyPassphrase), publicKeySpki };
}
