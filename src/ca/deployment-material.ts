/**
 * Client certificate, key and CA in the shapes deployments want: environment variables (base64
 * of the PEM text, one line each), libpq connection parameters, DER PKCS#8 for pgJDBC.
 */
import { X509Certificate, type KeyObject } from 'node:crypto';
import { resolve } from 'node:path';
import { PgmoatError } from '../util/errors.js';
import { readPrivateFile } from '../util/private-file.js';
import { isEncryptedPem, parsePrivateKey, publicSpki } from './keys.js';
import { pemBlocks } from '@pgmoat/client/internal';
import { readTextFile } from '../util/file-problem.js';

export const MATERIAL_FORMATS = ['env', 'dotenv', 'json'] as const;
export type MaterialFormat = (typeof MATERIAL_FORMATS)[number];
export const EXPORT_FORMATS = [...MATERIAL_FORMATS, 'libpq', 'pk8'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

const ENV_NAMES = { cert: 'PGCLIENT_CERT_B64', key: 'PGCLIENT_KEY_B64', ca: 'PGCLIENT_CA_B64' } as const;

export interface ClientMaterial {
  certPem: string;
  keyPem: string;
  caPem: string;
}

function b64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}

/** A value as one shell word: as it is when that is safe, else in single quotes. */
function shellWord(v: string): string {
  return /^[A-Za-z0-9_.,:/@%+=-]+$/.test(v) ? v : `'${v.replace(/'/g, `'\\''`)}'`;
}

/** A value for a .env line: as it is when plain, else in double quotes (dotenv's escapes). */
function dotenvValue(v: string): string {
  return /^[A-Za-z0-9_.,:/@%+=-]*$/.test(v) ? v : JSON.stringify(v);
}

/**
 * The material as variables; `more` (libpq's PGHOST, PGSSLMODE, ... from `pgmoat export`) follow
 * the three base64 ones.
 */
export function formatMaterial(format: MaterialFormat, m: ClientMaterial, more: readonly [string, string][] = []): string {
  const pairs: [string, string][] = [
    [ENV_NAMES.cert, b64(m.certPem)],
    [ENV_NAMES.key, b64(m.keyPem)],
    [ENV_NAMES.ca, b64(m.caPem)],
    ...more,
  ];
  switch (format) {
    case 'env':
      return pairs.map(([k, v]) => `export ${k}=${shellWord(v)}\n`).join('');
    case 'dotenv':
      return pairs.map(([k, v]) => `${k}=${dotenvValue(v)}\n`).join('');
    case 'json':
      return JSON.stringify(Object.fromEntries(pairs), null, 2) + '\n';
  }
}

export function formatLibpq(paths: { cert: string; key: string; ca: string }): string {
  return `sslmode=verify-full sslcert=${resolve(paths.cert)} sslkey=${resolve(paths.key)} sslrootcert=${resolve(paths.ca)}\n`;
}

export interface LoadedClientFiles extends ClientMaterial {
  /** The parsed key, when it could be read (plain, or encrypted with the passphrase given). */
  key: KeyObject | undefined;
}

function readCert(path: string, what: string): { pem: string; cert: X509Certificate } {
  const pem = readTextFile(path, what);
  try {
    return { pem, cert: new X509Certificate(pem) };
  } catch (err) {
    throw new PgmoatError('CERT_INVALID', `${what} ${path} is not a PEM certificate`, { cause: err });
  }
}

/**
 * Whether the certificate file (a certificate, possibly followed by the intermediate of a
 * two-level CA) leads to the CA: each certificate signed by the next, the last by the CA.
 */
function chainsTo(pem: string, ca: X509Certificate): boolean {
  const chain = pemBlocks(pem)
    .filter((b) => b.label === 'CERTIFICATE')
    .map((b) => new X509Certificate(b.der));
  if (chain.length === 0) return false;
  for (let i = 0; i + 1 < chain.length; i++) {
    if (!chain[i]!.verify(chain[i + 1]!.publicKey)) return false;
  }
  return chain.at(-1)!.verify(ca.publicKey);
}

/**
 * Reads and cross-checks a client's files: the key must be private (0600), match the certificate,
 * and the certificate must be signed by the CA.
 */
export function loadClientFiles(opts: { cert: string; key: string; ca: string; keyPassphrase?: string }): LoadedClientFiles {
  const cert = readCert(opts.cert, 'certificate');
  const ca = readCert(opts.ca, 'CA certificate');
  if (!chainsTo(cert.pem, ca.cert)) {
    throw new PgmoatError('CERT_NOT_FROM_CA', `certificate ${opts.cert} was not issued by CA ${opts.ca}; pass the CA that issued it with --ca`);
  }
  const keyData = readPrivateFile(opts.key, 'client key');
  const keyText = keyData.toString('utf8');
  if (!keyText.includes('-----BEGIN ')) {
    throw new PgmoatError('KEY_INVALID', `client key ${opts.key} is not a PEM private key`);
  }
  let key: KeyObject | undefined;
  if (!isEncryptedPem(keyText) || opts.keyPassphrase !== undefined) {
    key = parsePrivateKey(keyData, { passphrase: opts.keyPassphrase, what: `client key ${opts.key}`, passphraseOption: '--key-passphrase-file' });
    if (!publicSpki(key).equals(cert.cert.publicKey.export({ format: 'der', type: 'spki' }))) {
      throw new PgmoatError('KEY_MISMATCH', `client key ${opts.key} does not belong to certificate ${opts.cert}`);
    }
  }
  return { certPem: cert.pem, keyPem: keyText, caPem: ca.pem, key };
}

/** Unencrypted DER PKCS#8, the form pgJDBC's sslkey reads. */
export function pkcs8Der(key: KeyObject): Buffer {
  return key.export({ format: 'der', type: 'pkcs8' });
}
