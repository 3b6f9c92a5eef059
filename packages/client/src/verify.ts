/**
 * Checks the client certificate and key the way a failed handshake would, but earlier and in
 * plain words: parse, validity window, client-auth usage, key decryption, key/cert match.
 */
import { createPrivateKey, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { PgmoatClientError } from './errors.js';
import { isEncryptedKey, pemBlocks, PRIVATE_KEY_LABELS, type PemBlock } from './pem.js';
import type { Material } from './sources.js';

const CLIENT_AUTH_OID = '1.3.6.1.5.5.7.3.2';

/** Every CERTIFICATE block parsed; the first is the leaf when the text is a chain. */
export function parseCertificates(m: Material, what: string): X509Certificate[] {
  const blocks = pemBlocks(m.text).filter((b) => b.label === 'CERTIFICATE');
  if (blocks.length === 0) {
    throw new PgmoatClientError('NOT_PEM', `${m.origin} holds no PEM certificate (expected "-----BEGIN CERTIFICATE-----"); it should be the ${what}`, {
      variable: m.variable,
    });
  }
  return blocks.map((b, i) => {
    try {
      return new X509Certificate(b.text);
    } catch (err) {
      throw new PgmoatClientError('INVALID_CERTIFICATE', `${m.origin}: certificate ${i + 1} does not parse (${(err as Error).message})`, {
        variable: m.variable,
        cause: err,
      });
    }
  });
}

function subjectCn(cert: X509Certificate): string {
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(cert.subject)?.[1];
  return cn === undefined ? cert.subject.replace(/\n/g, ', ') : `CN=${cn}`;
}

/** The validity window and the usage: the two reasons a gateway refuses a well-formed certificate. */
export function checkClientCertificate(cert: X509Certificate, m: Material, now: Date): void {
  const notBefore = new Date(cert.validFrom);
  const notAfter = new Date(cert.validTo);
  const who = `the client certificate (${subjectCn(cert)}, serial ${cert.serialNumber.toLowerCase()}) from ${m.origin}`;
  if (now.getTime() > notAfter.getTime()) {
    throw new PgmoatClientError('CERT_EXPIRED', `${who} expired on ${notAfter.toISOString()}; renew it (pgmoat renew)`, { variable: m.variable });
  }
  if (now.getTime() < notBefore.getTime()) {
    throw new PgmoatClientError('CERT_NOT_YET_VALID', `${who} is not valid until ${notBefore.toISOString()} (check this machine's clock)`, {
      variable: m.variable,
    });
  }
  // Node (20 to 24) returns the extended key usage OIDs here; undefined means no EKU, i.e. any use.
  const eku = cert.keyUsage as string[] | undefined;
  if (Array.isArray(eku) && !eku.includes(CLIENT_AUTH_OID)) {
    throw new PgmoatClientError('CERT_NOT_FOR_CLIENT', `${who} is not for client use (its extended key usage lacks clientAuth)`, {
      variable: m.variable,
    });
  }
}

function keyBlock(m: Material): PemBlock {
  const block = pemBlocks(m.text).find((b) => (PRIVATE_KEY_LABELS as readonly string[]).includes(b.label));
  if (!block) {
    throw new PgmoatClientError('NOT_PEM', `${m.origin} holds no PEM private key (expected "-----BEGIN PRIVATE KEY-----")`, { variable: m.variable });
  }
  return block;
}

/** The key block's PEM and whether it is encrypted (then the passphrase must go with it). */
export function loadPrivateKey(m: Material, passphrase: string | undefined, passphraseVariable: string): { pem: string; key: KeyObject; encrypted: boolean } {
  const block = keyBlock(m);
  const encrypted = isEncryptedKey(block);
  if (encrypted && passphrase === undefined) {
    throw new PgmoatClientError('PASSPHRASE_REQUIRED', `the private key from ${m.origin} is encrypted: set ${passphraseVariable} to its passphrase`, {
      variable: passphraseVariable,
    });
  }
  try {
    const key = encrypted ? createPrivateKey({ key: block.text, format: 'pem', passphrase }) : createPrivateKey({ key: block.text, format: 'pem' });
    return { pem: block.text, key, encrypted };
  } catch (err) {
    if (encrypted) {
      throw new PgmoatClientError('WRONG_PASSPHRASE', `${passphraseVariable} does not decrypt the private key from ${m.origin}`, {
        variable: passphraseVariable,
        cause: err,
      });
    }
    // The OpenSSL message says nothing about the key's content, but keep it out anyway.
    throw new PgmoatClientError('INVALID_KEY', `the private key from ${m.origin} does not parse`, { variable: m.variable });
  }
}

/** Compares the public half of the key with the certificate's public key (SPKI DER). */
export function checkKeyMatches(cert: X509Certificate, key: KeyObject, certOrigin: string, keyMaterial: Material): void {
  const fromKey = createPublicKey(key).export({ type: 'spki', format: 'der' });
  const fromCert = cert.publicKey.export({ type: 'spki', format: 'der' });
  if (!fromKey.equals(fromCert)) {
    throw new PgmoatClientError(
      'KEY_MISMATCH',
      `the private key from ${keyMaterial.origin} does not match the certificate from ${certOrigin} (${subjectCn(cert)}): they come from different issuances`,
      { variable: keyMaterial.variable },
    );
  }
}
