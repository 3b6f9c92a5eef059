/**
 * Replacing a certificate/key pair on disk so that no crash leaves a pair that cannot renew
 * itself. Each file is replaced atomically (util/atomic-file.ts), but two renames are not one:
 * a kill between them leaves the new key beside the old certificate. So both new files are
 * first written in full beside their targets (`.renewing`), then the key is renamed, then the
 * certificate; the next run finishes a half-done swap (recoverPair) before it does anything else.
 */
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { existsSync, readFileSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fsyncDir, removeStaleTemps, writeFileAtomic } from '../util/atomic-file.js';

const STAGED = '.renewing';

function pairMatches(certPem: string, keyPem: Buffer, passphrase: string | undefined): boolean {
  try {
    const key = createPrivateKey({ key: keyPem, ...(passphrase !== undefined ? { passphrase } : {}) });
    return new X509Certificate(certPem).publicKey.export({ format: 'der', type: 'spki' }).equals(createPublicKey(key).export({ format: 'der', type: 'spki' }));
  } catch {
    return false;
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // not there
  }
}

/**
 * One file holding the certificate chain and the key, named by both --cert and --key: replaced
 * by one rename, so that a reader that loads the certificate and the key at each connection
 * (libpq's sslcert and sslkey) never sees a new key beside an old certificate.
 */
export function isOneFile(certPath: string, keyPath: string): boolean {
  return resolve(certPath) === resolve(keyPath);
}

/**
 * Finishes or discards a swap a killed run left behind. Returns what it did, for the log:
 * 'completed' when the key had been replaced and the staged certificate matches it.
 */
export function recoverPair(certPath: string, keyPath: string, passphrase: string | undefined): 'none' | 'completed' | 'discarded' {
  if (isOneFile(certPath, keyPath)) {
    // One atomic rename: nothing is ever half-done, at most a temp file is left.
    removeStaleTemps(certPath);
    return 'none';
  }
  const stagedCert = certPath + STAGED;
  const stagedKey = keyPath + STAGED;
  // A kill while a staged file was being written leaves only its temp file: never used, removed.
  removeStaleTemps(stagedCert);
  removeStaleTemps(stagedKey);
  if (!existsSync(stagedCert) && !existsSync(stagedKey)) return 'none';
  const cert = existsSync(stagedCert) ? readFileSync(stagedCert, 'utf8') : undefined;
  if (!existsSync(stagedKey) && cert !== undefined && existsSync(keyPath) && pairMatches(cert, readFileSync(keyPath), passphrase)) {
    renameSync(stagedCert, certPath);
    fsyncDir(dirname(certPath));
    return 'completed';
  }
  // Killed before the key moved: the current pair is still the old, whole one.
  unlinkQuietly(stagedCert);
  unlinkQuietly(stagedKey);
  return 'discarded';
}

/** Writes the new pair: the key (0600) and the certificate (its previous mode, else 0644). */
export function replacePair(certPath: string, keyPath: string, certPem: string, keyPem: string): void {
  if (isOneFile(certPath, keyPath)) {
    writeFileAtomic(keyPath, certPem + keyPem, 0o600);
    return;
  }
  const certMode = existsSync(certPath) ? statSync(certPath).mode & 0o777 : 0o644;
  writeFileAtomic(keyPath + STAGED, keyPem, 0o600);
  writeFileAtomic(certPath + STAGED, certPem, certMode);
  renameSync(keyPath + STAGED, keyPath);
  fsyncDir(dirname(keyPath));
  renameSync(certPath + STAGED, certPath);
  fsyncDir(dirname(certPath));
}
