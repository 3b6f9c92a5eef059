// The project's lib setting has no DOM, so WebCrypto's types come from node:crypto's namespace.
import type { webcrypto } from 'node:crypto';

export type CryptoKey = webcrypto.CryptoKey;
export type CryptoKeyPair = webcrypto.CryptoKeyPair;
export type EcKeyGenParams = webcrypto.EcKeyGenParams;
export type RsaHashedKeyGenParams = webcrypto.RsaHashedKeyGenParams;
export type EcKeyImportParams = webcrypto.EcKeyImportParams;
export type RsaHashedImportParams = webcrypto.RsaHashedImportParams;
