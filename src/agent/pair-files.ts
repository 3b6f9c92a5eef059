/**
 * The certificate and key on disk, replaced so that a crash at any moment leaves a pair that
 * can still renew. The new pair is first written whole beside the old one (CERT.next, KEY.next,
 * each atomically and synced); only then is the key renamed over the key and the certificate
 * over the certificate. A process killed between those two renames leaves the new key with the
 * old certificate, which could no longer prove who it is: CERT.next is still there, and the
 * next start finishes the installation (finishPending) before anything else.
 */
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { existsSync, readFileSync, renameSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { fsyncDir, writeFileAtomic } from '../util/atomic-file.js';
import { PgmoatError } from '../util/errors.js';
import { readPrivateFile } from '../util/private-file.js';

export interface PairPaths {
  cert: string;
  key: string;
}

export interface Pair {
  certPem: string;
  keyPem: string;
}

export interface PairFacts {
  /** Lowercase hex. */
  serial: string;
  notBefore: number;
  notAfter: number;
}

const next = (path: string): string => `${path}.next`;

/** The leaf's facts, when the key belongs to it; throws PgmoatError otherwise. */
export function checkPair(p: Pair, what: string): PairFacts {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(p.certPem);
  } catch (err) {
    throw new PgmoatError('CERT_INVALID', `${what}: the certificate does not parse`, { cause: err });
  }
  let spki: Buffer;
  try {
    spki = createPublicKey(createPrivateKey(p.keyPem)).export({ type: 'spki', format: 'der' });
  } catch (err) {
    throw new PgmoatError('KEY_INVALID', `${what}: the private key does not parse`, { cause: err });
  }
  if (!spki.equals(cert.publicKey.export({ type: 'spki', format: 'der' }))) {
    throw new PgmoatError('KEY_MISMATCH', `${what}: the private key does not belong to the certificate`);
  }
  return { serial: cert.serialNumber.toLowerCase(), notBefore: Date.parse(cert.validFrom), notAfter: Date.parse(cert.validTo) };
}

export function readPair(paths: PairPaths): Pair {
  let certPem: string;
  try {
    certPem = readFileSync(paths.cert, 'utf8');
  } catch (err) {
    throw new PgmoatError('FILE_UNREADABLE', `cannot read the certificate ${paths.cert}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { cause: err });
  }
  // Refused when group or others can read it, as every private key pgmoat reads.
  const keyPem = readPrivateFile(paths.key, 'the private key').toString('utf8');
  return { certPem, keyPem };
}

/** Writes `pair` beside the current one, then puts it in place: key first, certificate last. */
export function installPair(paths: PairPaths, pair: Pair): void {
  writeFileAtomic(next(paths.key), pair.keyPem, 0o600);
  writeFileAtomic(next(paths.cert), pair.certPem, 0o644);
  renameSync(next(paths.key), paths.key);
  renameSync(next(paths.cert), paths.cert);
  fsyncDir(dirname(paths.key));
  if (dirname(paths.cert) !== dirname(paths.key)) fsyncDir(dirname(paths.cert));
}

function removeQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // gone already
  }
}

/**
 * Finishes an installation a crash interrupted. Returns what it did, for the log: 'none',
 * 'finished' (the new pair is now in place) or 'discarded' (the leftovers did not form a pair
 * and were removed; the current files are as they were).
 */
export function finishPending(paths: PairPaths): 'none' | 'finished' | 'discarded' {
  const certNext = next(paths.cert);
  const keyNext = next(paths.key);
  if (!existsSync(certNext)) {
    // Without the certificate, a lone KEY.next was never renamed: the current pair is intact.
    if (existsSync(keyNext)) {
      removeQuietly(keyNext);
      return 'discarded';
    }
    return 'none';
  }
  const keyNow = existsSync(keyNext) ? keyNext : paths.key;
  try {
    checkPair({ certPem: readFileSync(certNext, 'utf8'), keyPem: readPrivateFile(keyNow, 'the private key').toString('utf8') }, certNext);
  } catch {
    removeQuietly(certNext);
    removeQuietly(keyNext);
    return 'discarded';
  }
  if (keyNow === keyNext) renameSync(keyNext, paths.key);
  renameSync(certNext, paths.cert);
  fsyncDir(dirname(paths.cert));
  return 'finished';
}
