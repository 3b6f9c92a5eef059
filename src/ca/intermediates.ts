/**
 * The intermediates of a two-level CA besides the current one, and the root when a command needs
 * it. `pgmoat ca rotate-intermediate` moves the current intermediate to retired-intermediates/
 * (SERIAL.crt, SERIAL.key): certificates it issued keep working until they expire or renew, so it
 * stays in ca-bundle.crt and keeps signing a CRL of its own for them (its key is needed for that
 * and for nothing else). `pgmoat ca revoke-intermediate` lists one in the root's CRL
 * (root-crl.pem): it then leaves the bundle, its CRL is no longer written, and every certificate
 * under it is refused by the gateway (revocation/chain.ts) and by the renewal service.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as x509 from './x509.js';
import { pemBlocks } from '@pgmoat/client/internal';
import { PgmoatError } from '../util/errors.js';
import { normalizeSerial } from '../util/serial.js';
import { readPrivateFile } from '../util/private-file.js';
import { caPath } from './ca-layout.js';
import { caNameOf, certificatePem, type Signer } from './certificate-profiles.js';
import { parsePrivateKey, publicSpki, toSigningKey } from './keys.js';
import { readTextFile } from '../util/file-problem.js';

export interface RetiredIntermediate {
  readonly cert: x509.X509Certificate;
  /** PEM with a trailing newline. */
  readonly pem: string;
  /** Canonical form (util/serial.ts). */
  readonly serial: string;
  /** Listed in root-crl.pem: out of the bundle, no CRL of its own, nothing under it renews. */
  readonly revoked: boolean;
  /** Signs its CRL; undefined for a revoked one (its key is not read). */
  readonly signer: Signer | undefined;
}

export interface RevokedIntermediate {
  readonly serial: string;
  readonly revokedAt: Date;
  readonly reason: x509.X509CrlReason | undefined;
}

function readCert(path: string, what: string): { cert: x509.X509Certificate; pem: string } {
  const text = readTextFile(path, what);
  const block = pemBlocks(text).find((b) => b.label === 'CERTIFICATE');
  try {
    if (!block) throw new Error('no CERTIFICATE block');
    const cert = new x509.X509Certificate(Uint8Array.from(block.der));
    return { cert, pem: certificatePem(cert) };
  } catch (err) {
    throw new PgmoatError('CA_CERT_INVALID', `${what} ${path} cannot be parsed; restore it from a backup`, { cause: err });
  }
}

/**
 * A signer from a certificate and its key file (0600; `passphraseOption` names where an
 * encrypted key's passphrase comes from). CA_KEY_MISMATCH when the key is not the certificate's.
 */
export async function openSigner(
  cert: x509.X509Certificate,
  keyPath: string,
  opts: { what: string; passphrase: string | undefined; passphraseOption: string; mismatchCode?: 'CA_KEY_MISMATCH' | 'ROOT_KEY_MISMATCH'; caName?: string },
): Promise<Signer & { rsa: boolean }> {
  const keyObject = parsePrivateKey(readPrivateFile(keyPath, opts.what), { passphrase: opts.passphrase, what: `${opts.what} ${keyPath}`, passphraseOption: opts.passphraseOption });
  if (!Buffer.from(cert.publicKey.rawData).equals(publicSpki(keyObject))) {
    throw new PgmoatError(opts.mismatchCode ?? 'CA_KEY_MISMATCH', `${opts.what} ${keyPath} does not belong to the certificate ${cert.subject} (serial ${normalizeSerial(cert.serialNumber)})`);
  }
  const s = await toSigningKey(keyObject, `${opts.what} ${keyPath}`);
  return { cert, key: s.key, algorithm: s.algorithm, rsa: s.rsa, ...(opts.caName !== undefined ? { caName: opts.caName } : {}) };
}

/** The intermediates root-crl.pem lists (none without that file). */
export function readRevokedIntermediates(dir: string): RevokedIntermediate[] {
  const path = caPath(dir, 'rootCrl');
  if (!existsSync(path)) return [];
  const block = pemBlocks(readFileSync(path, 'utf8')).find((b) => b.label === 'X509 CRL');
  try {
    if (!block) throw new Error('no X509 CRL block');
    const crl = new x509.X509Crl(Uint8Array.from(block.der));
    return crl.entries.map((e) => ({ serial: normalizeSerial(e.serialNumber), revokedAt: e.revocationDate, reason: e.reason }));
  } catch (err) {
    throw new PgmoatError('CRL_INVALID', `${path} is not a valid CRL; restore it from a backup`, { cause: err });
  }
}

/** The root CRL as written (PEM), or undefined without one. */
export function readRootCrlPem(dir: string): string | undefined {
  const path = caPath(dir, 'rootCrl');
  return existsSync(path) ? readFileSync(path, 'utf8') : undefined;
}

/**
 * The retired intermediates of `dir`, each checked against the root. The key of every one still
 * in force is opened with `passphrase` (the intermediates share the CA passphrase).
 */
export async function readRetiredIntermediates(dir: string, root: x509.X509Certificate, passphrase: string | undefined): Promise<RetiredIntermediate[]> {
  const retiredDir = caPath(dir, 'retiredDir');
  if (!existsSync(retiredDir)) return [];
  const revoked = new Set(readRevokedIntermediates(dir).map((r) => r.serial));
  const out: RetiredIntermediate[] = [];
  for (const name of readdirSync(retiredDir).filter((n) => n.endsWith('.crt')).sort()) {
    const certPath = join(retiredDir, name);
    const { cert, pem } = readCert(certPath, 'retired intermediate');
    if (!(await cert.verify({ publicKey: root.publicKey, signatureOnly: true }))) {
      throw new PgmoatError('CA_CERT_INVALID', `${certPath} is not signed by ${caPath(dir, 'caCert')}; remove it or restore it from a backup`);
    }
    const serial = normalizeSerial(cert.serialNumber);
    const isRevoked = revoked.has(serial);
    const signer = isRevoked
      ? undefined
      : await openSigner(cert, certPath.replace(/\.crt$/, '.key'), { what: 'retired intermediate key', passphrase, passphraseOption: '--ca-passphrase-file', caName: caNameOf(root) });
    out.push({ cert, pem, serial, revoked: isRevoked, signer });
  }
  return out;
}

/** The root, to sign an intermediate or the root CRL: `keyPath` (default DIR/ca.key) may be brought back from offline. */
export async function openRoot(dir: string, root: x509.X509Certificate, opts: { keyPath?: string | undefined; passphrase?: string | undefined }): Promise<Signer> {
  const keyPath = opts.keyPath ?? caPath(dir, 'caKey');
  if (!existsSync(keyPath)) {
    throw new PgmoatError(
      'ROOT_KEY_MISSING',
      `the root CA key ${keyPath} is not there${opts.keyPath === undefined ? ' (moved offline?)' : ''}: this needs the root key; bring it back and pass --root-key FILE (and --root-passphrase-file FILE if it is encrypted)`,
    );
  }
  return openSigner(root, keyPath, { what: 'root CA key', passphrase: opts.passphrase, passphraseOption: '--root-passphrase-file', mismatchCode: 'ROOT_KEY_MISMATCH' });
}

/** The PEM CA bundle (the gateway's tls.ca): root, current intermediate, retired ones not revoked. */
export function bundlePem(rootPem: string, currentPem: string, retired: readonly RetiredIntermediate[]): string {
  return rootPem + currentPem + retired.filter((r) => !r.revoked).map((r) => r.pem).join('');
}

export interface ListedIntermediate {
  role: 'root' | 'current' | 'retired';
  serial: string;
  subject: string;
  notBefore: string;
  notAfter: string;
  /** valid, expired, or revoked (root-crl.pem lists it). */
  status: 'valid' | 'expired' | 'revoked';
  revokedAt: string | undefined;
  /** Whether ca-bundle.crt (the gateway's tls.ca) holds it. */
  inBundle: boolean;
}

/** The root and the intermediates of a CA directory, without opening any key (`pgmoat ca intermediates`). */
export function listIntermediates(dir: string, now = new Date()): ListedIntermediate[] {
  const revoked = new Map(readRevokedIntermediates(dir).map((r) => [r.serial, r]));
  const bundlePath = caPath(dir, 'caBundle');
  const bundle = existsSync(bundlePath)
    ? new Set(pemBlocks(readFileSync(bundlePath, 'utf8')).filter((b) => b.label === 'CERTIFICATE').map((b) => b.der.toString('base64')))
    : undefined;
  const describe = (role: ListedIntermediate['role'], cert: x509.X509Certificate): ListedIntermediate => {
    const serial = normalizeSerial(cert.serialNumber);
    const r = revoked.get(serial);
    return {
      role,
      serial,
      subject: cert.subject,
      notBefore: cert.notBefore.toISOString(),
      notAfter: cert.notAfter.toISOString(),
      status: r ? 'revoked' : cert.notAfter < now ? 'expired' : 'valid',
      revokedAt: r?.revokedAt.toISOString(),
      inBundle: bundle === undefined ? role === 'root' : bundle.has(Buffer.from(cert.rawData).toString('base64')),
    };
  };
  const out = [describe('root', readCert(caPath(dir, 'caCert'), 'CA certificate').cert)];
  if (existsSync(caPath(dir, 'intermediateCert'))) out.push(describe('current', readCert(caPath(dir, 'intermediateCert'), 'intermediate certificate').cert));
  const retiredDir = caPath(dir, 'retiredDir');
  if (existsSync(retiredDir)) {
    for (const name of readdirSync(retiredDir).filter((n) => n.endsWith('.crt')).sort()) out.push(describe('retired', readCert(join(retiredDir, name), 'retired intermediate').cert));
  }
  return out;
}
