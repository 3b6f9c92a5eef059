/**
 * Key pairs: generated with WebCrypto (extractable, so they can be saved), saved as PKCS#8 PEM
 * through node:crypto (which can encrypt them), loaded back through node:crypto.
 */
import { createPrivateKey, createPublicKey, KeyObject, webcrypto } from 'node:crypto';
import { PgmoatError } from '../util/errors.js';
import type { CryptoKey, CryptoKeyPair, EcKeyGenParams, EcKeyImportParams, RsaHashedImportParams, RsaHashedKeyGenParams } from './webcrypto-types.js';
import { quote } from './identity-format.js';

export const KEY_TYPES = ['ec-p256', 'ec-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096'] as const;
export type KeyType = (typeof KEY_TYPES)[number];
export const DEFAULT_KEY_TYPE: KeyType = 'ec-p256';

export function parseKeyType(value: string): KeyType {
  if ((KEY_TYPES as readonly string[]).includes(value)) return value as KeyType;
  throw new PgmoatError('INVALID_KEY_TYPE', `invalid --key-type ${quote(value)}: use one of ${KEY_TYPES.join(', ')}`);
}

const subtle = webcrypto.subtle;

function generationParams(type: KeyType): EcKeyGenParams | RsaHashedKeyGenParams {
  switch (type) {
    case 'ec-p256':
      return { name: 'ECDSA', namedCurve: 'P-256' };
    case 'ec-p384':
      return { name: 'ECDSA', namedCurve: 'P-384' };
    case 'rsa-2048':
    case 'rsa-3072':
    case 'rsa-4096':
      return {
        name: 'RSASSA-PKCS1-v1_5',
        modulusLength: Number(type.slice(4)),
        publicExponent: new Uint8Array([1, 0, 1]),
        hash: 'SHA-256',
      };
  }
}

export async function generateKeyPair(type: KeyType): Promise<CryptoKeyPair> {
  return (await subtle.generateKey(generationParams(type), true, ['sign', 'verify'])) as CryptoKeyPair;
}

/** The algorithm a key of this kind signs certificates and CRLs with. */
export type SigningAlgorithm = { name: 'ECDSA'; hash: 'SHA-256' | 'SHA-384' | 'SHA-512' } | { name: 'RSASSA-PKCS1-v1_5'; hash: 'SHA-256' };

function describeKeyObject(key: KeyObject): { importParams: EcKeyImportParams | RsaHashedImportParams; signing: SigningAlgorithm; rsa: boolean } | undefined {
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'ec') {
    switch (details.namedCurve) {
      case 'prime256v1':
        return { importParams: { name: 'ECDSA', namedCurve: 'P-256' }, signing: { name: 'ECDSA', hash: 'SHA-256' }, rsa: false };
      case 'secp384r1':
        return { importParams: { name: 'ECDSA', namedCurve: 'P-384' }, signing: { name: 'ECDSA', hash: 'SHA-384' }, rsa: false };
      case 'secp521r1':
        return { importParams: { name: 'ECDSA', namedCurve: 'P-521' }, signing: { name: 'ECDSA', hash: 'SHA-512' }, rsa: false };
      default:
        return undefined;
    }
  }
  if (key.asymmetricKeyType === 'rsa' && (details.modulusLength ?? 0) >= 2048) {
    return { importParams: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, signing: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, rsa: true };
  }
  return undefined;
}

export function signingAlgorithmFor(type: KeyType): SigningAlgorithm {
  if (type === 'ec-p384') return { name: 'ECDSA', hash: 'SHA-384' };
  if (type === 'ec-p256') return { name: 'ECDSA', hash: 'SHA-256' };
  return { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
}

/** PKCS#8 PEM; encrypted with AES-256-CBC when a passphrase is given. */
export function exportPrivateKeyPem(privateKey: CryptoKey | KeyObject, passphrase?: string): string {
  const key = privateKey instanceof KeyObject ? privateKey : KeyObject.from(privateKey);
  const pem =
    passphrase === undefined
      ? key.export({ format: 'pem', type: 'pkcs8' })
      : key.export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase });
  return pem.toString();
}

export function isEncryptedPem(pem: string): boolean {
  return pem.includes('-----BEGIN ENCRYPTED PRIVATE KEY-----') || pem.includes('Proc-Type: 4,ENCRYPTED');
}

/**
 * Parses a private key (PEM or DER PKCS#8). `what` names the key in errors (e.g. "CA key /x/ca.key");
 * `passphraseOption` names the option that supplies the passphrase.
 */
export function parsePrivateKey(data: Buffer, opts: { passphrase?: string; what: string; passphraseOption: string }): KeyObject {
  const text = data.toString('latin1');
  const pem = text.includes('-----BEGIN ');
  const encrypted = pem && isEncryptedPem(text);
  if (encrypted && opts.passphrase === undefined) {
    throw new PgmoatError('KEY_PASSPHRASE_REQUIRED', `${opts.what} is encrypted: pass ${opts.passphraseOption} FILE`);
  }
  try {
    return pem
      ? createPrivateKey({ key: text, format: 'pem', ...(opts.passphrase !== undefined ? { passphrase: opts.passphrase } : {}) })
      : createPrivateKey({ key: data, format: 'der', type: 'pkcs8' });
  } catch (err) {
    if (encrypted) {
      throw new PgmoatError('KEY_PASSPHRASE_WRONG', `cannot decrypt ${opts.what}: wrong passphrase (check ${opts.passphraseOption})`, { cause: err });
    }
    throw new PgmoatError('KEY_INVALID', `${opts.what} is not a valid private key (expected PKCS#8 PEM)`, { cause: err });
  }
}

export interface SigningKey {
  key: CryptoKey;
  algorithm: SigningAlgorithm;
  /** RSA keys also need keyEncipherment in a TLS server certificate (TLS 1.2 RSA key exchange). */
  rsa: boolean;
}

/** Turns a parsed key into a WebCrypto signing key, without exporting it (no copy of the key in a buffer). */
export async function toSigningKey(key: KeyObject, what: string): Promise<SigningKey> {
  const described = describeKeyObject(key);
  if (!described) {
    throw new PgmoatError('KEY_UNSUPPORTED', `${what} has an unsupported key type (pgmoat signs with EC P-256/P-384/P-521 or RSA >= 2048 bits)`);
  }
  const cryptoKey = key.toCryptoKey(described.importParams, false, ['sign']);
  return { key: cryptoKey, algorithm: described.signing, rsa: described.rsa };
}

/** SPKI DER of the public half of a private key. */
export function publicSpki(key: KeyObject): Buffer {
  return createPublicKey(key).export({ format: 'der', type: 'spki' });
}

/** Checks that an SPKI public key is one pgmoat is willing to certify. Returns whether it is RSA. */
export function checkSubjectPublicKey(spki: Uint8Array, what: string): { rsa: boolean } {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  } catch (err) {
    throw new PgmoatError('KEY_INVALID', `${what} holds a public key that cannot be parsed`, { cause: err });
  }
  const described = describeKeyObject(key);
  if (!described) {
    throw new PgmoatError('KEY_UNSUPPORTED', `${what} has an unsupported key (use EC P-256/P-384/P-521 or RSA with at least 2048 bits)`);
  }
  return { rsa: described.rsa };
}
