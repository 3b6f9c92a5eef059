/**
 * Re-issuing the intermediate of a two-level CA, before it expires or after its key leaked: a new
 * key and certificate signed by the root (whose key may be brought back from offline for this).
 * The old intermediate moves to retired-intermediates/ and stays in ca-bundle.crt, so the
 * certificates it issued keep working until they expire or renew (renewal issues from the new
 * one); crl.pem gains a CRL signed by the new intermediate and keeps one signed by the old, so
 * both sets of certificates can still be revoked. Trust only grows here: the bundle gains the new
 * intermediate and loses nothing. After a leak, revoke the old one next (revoke-intermediate.ts).
 */
import { createPublicKey } from 'node:crypto';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { PgmoatError } from '../util/errors.js';
import * as x509 from './x509.js';
import type { CertificateAuthority } from './authority.js';
import { caPath, PRIVATE_MODE, PUBLIC_MODE } from './ca-layout.js';
import { withCaTransaction } from './ca-transaction.js';
import { buildIntermediateCertificate, certificatePem, randomSerial } from './certificate-profiles.js';
import { bundlePem, openRoot, type RetiredIntermediate } from './intermediates.js';
import { DAY_MS, parseLifetime } from './lifetime.js';
import { exportPrivateKeyPem, generateKeyPair, signingAlgorithmFor, type KeyType } from './keys.js';
import { normalizeSerial } from '../util/serial.js';
import type { BuiltCrl } from './crl.js';

/** As pgmoat init --intermediate: half the root's ten years. */
export const DEFAULT_INTERMEDIATE_LIFETIME = '1825d';
const BACKDATE_MS = 5 * 60_000;

export interface RotateIntermediateOptions {
  /** The root key; default DIR/ca.key. */
  rootKeyPath?: string | undefined;
  rootPassphrase?: string | undefined;
  /** Encrypts the new intermediate key (the CA passphrase the other commands use). */
  passphrase?: string | undefined;
  /** `1825d` by default; cut to the root's notAfter. */
  lifetime?: string | undefined;
  keyType?: KeyType | undefined;
}

export interface RotatedIntermediate {
  oldSerial: string;
  serial: string;
  notBefore: Date;
  notAfter: Date;
  crl: BuiltCrl;
  bundlePath: string;
  retiredCertPath: string;
}

/** The key type of the current intermediate, so that a rotation keeps it unless told otherwise. */
function keyTypeOf(cert: x509.X509Certificate): KeyType {
  const key = createPublicKey({ key: Buffer.from(cert.publicKey.rawData), format: 'der', type: 'spki' });
  const d = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'rsa') {
    const bits = d.modulusLength ?? 2048;
    return bits >= 4096 ? 'rsa-4096' : bits >= 3072 ? 'rsa-3072' : 'rsa-2048';
  }
  return d.namedCurve === 'secp384r1' ? 'ec-p384' : 'ec-p256';
}

export function assertTwoLevel(ca: CertificateAuthority, command: string): void {
  if (ca.chainPem === '') {
    throw new PgmoatError('NOT_TWO_LEVEL', `${ca.dir} is a one-level CA (no intermediate.crt): ${command} needs a CA made with pgmoat init --intermediate`);
  }
}

export async function rotateIntermediate(ca: CertificateAuthority, opts: RotateIntermediateOptions = {}): Promise<RotatedIntermediate> {
  assertTwoLevel(ca, 'pgmoat ca rotate-intermediate');
  const rootCert = new x509.X509Certificate(ca.certPem);
  const root = await openRoot(ca.dir, rootCert, { keyPath: opts.rootKeyPath, passphrase: opts.rootPassphrase });
  const lifetime = parseLifetime(opts.lifetime ?? DEFAULT_INTERMEDIATE_LIFETIME, '--lifetime');
  const keyType = opts.keyType ?? keyTypeOf(ca.cert);
  const now = new Date();
  const notBefore = new Date(now.getTime() - BACKDATE_MS);
  let notAfter = new Date(now.getTime() + lifetime.ms);
  if (notAfter > rootCert.notAfter) notAfter = rootCert.notAfter;
  if (notAfter.getTime() - now.getTime() < DAY_MS) {
    throw new PgmoatError('INVALID_LIFETIME', `the root CA expires at ${rootCert.notAfter.toISOString()}: too soon for a new intermediate; make a new CA`);
  }
  const keys = await generateKeyPair(keyType);
  const serial = randomSerial();
  const cert = await buildIntermediateCertificate(root, { caName: ca.caName ?? ca.name, publicKey: keys.publicKey, serial, notBefore, notAfter });
  const pem = certificatePem(cert);
  const keyPem = exportPrivateKeyPem(keys.privateKey, opts.passphrase);

  const oldSerial = normalizeSerial(ca.cert.serialNumber);
  const retiredDir = caPath(ca.dir, 'retiredDir');
  const retiredCertPath = join(retiredDir, `${oldSerial}.crt`);
  const old: RetiredIntermediate = { cert: ca.cert, pem: ca.chainPem, serial: oldSerial, revoked: false, signer: { cert: ca.cert, key: ca.key, algorithm: ca.algorithm, caName: ca.caName ?? ca.name } };
  const retired = [old, ...ca.retired];
  const bundle = bundlePem(ca.certPem, pem, retired);
  // The CRLs of this rotation are signed by the new intermediate and by every retired one.
  const rotated: CertificateAuthority = { ...ca, cert, key: keys.privateKey, algorithm: signingAlgorithmFor(keyType), rsa: keyType.startsWith('rsa'), chainPem: pem, retired, bundlePem: bundle };
  const { crl } = await withCaTransaction(rotated, async (tx) => {
    // The old pair first (exclusive: a retired serial is never overwritten), then the new one.
    tx.stageFile(join(retiredDir, `${oldSerial}.key`), readFileSync(caPath(ca.dir, 'intermediateKey')), PRIVATE_MODE, { exclusive: true });
    tx.stageFile(retiredCertPath, ca.chainPem, PUBLIC_MODE, { exclusive: true });
    tx.stageFile(caPath(ca.dir, 'intermediateKey'), keyPem, PRIVATE_MODE);
    tx.stageFile(caPath(ca.dir, 'intermediateCert'), pem, PUBLIC_MODE);
    tx.stageFile(caPath(ca.dir, 'caBundle'), bundle, PUBLIC_MODE);
    tx.rewriteCrl();
  });
  return { oldSerial, serial, notBefore, notAfter, crl: crl!, bundlePath: caPath(ca.dir, 'caBundle'), retiredCertPath };
}
