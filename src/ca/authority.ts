/** Opening an existing CA directory: its certificate, its signing key and its layout. */
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { PgmoatError } from '../util/errors.js';
import { readPrivateFile } from '../util/private-file.js';
import * as x509 from './x509.js';
import { caPath } from './ca-layout.js';
import { caNameOf, type Signer } from './certificate-profiles.js';
import { parsePrivateKey, publicSpki, toSigningKey } from './keys.js';
import { pemDecodeOne } from './pem.js';
import { readCaDefaults, type CaDefaults } from './ca-defaults.js';
import { bundlePem, readRetiredIntermediates, type RetiredIntermediate } from './intermediates.js';
import { readTextFile } from '../util/file-problem.js';

export interface CertificateAuthority extends Signer {
  /** Absolute path of the CA directory. */
  readonly dir: string;
  readonly name: string;
  /** ca.crt as PEM text (with a trailing newline): the trust anchor clients are given (the root of a two-level CA). */
  readonly certPem: string;
  /**
   * Two-level CA: intermediate.crt (PEM, trailing newline), which signs; issued certificates are
   * written followed by it, so that clients and the gateway send their chain. '' for a one-level CA.
   */
  readonly chainPem: string;
  /** Lifetimes used when a command gives neither --days nor --lifetime (defaults.json). */
  readonly defaults: CaDefaults;
  /**
   * Two-level CA: intermediates replaced by a rotation (intermediates.ts), revoked ones included
   * (flagged); empty for a one-level CA.
   */
  readonly retired: readonly RetiredIntermediate[];
  /** What the gateway trusts (tls.ca): ca.crt alone, or root + current + retired intermediates not revoked. */
  readonly bundlePem: string;
  /** Whether the CA key is RSA (decides keyEncipherment for server certificates of the same type). */
  readonly rsa: boolean;
}

/** Checks that DIR looks like a CA directory, with a message that says what to do when it does not. */
export function assertCaDir(dir: string): string {
  const abs = resolve(dir);
  let isDir = false;
  try {
    isDir = statSync(abs).isDirectory();
  } catch {
    throw new PgmoatError('NOT_A_CA', `CA directory ${abs} does not exist; create it with: pgmoat init --dir ${dir}`);
  }
  if (!isDir) throw new PgmoatError('NOT_A_CA', `${abs} is not a directory`);
  if (!existsSync(caPath(abs, 'caCert'))) {
    throw new PgmoatError('NOT_A_CA', `${abs} is not a pgmoat CA directory (no ca.crt); create one with: pgmoat init --dir ${dir}`);
  }
  return abs;
}

function readCaCertificate(dir: string, file: 'caCert' | 'intermediateCert' = 'caCert'): { cert: x509.X509Certificate; pem: string } {
  const path = caPath(dir, file);
  const pem = readTextFile(path, 'CA certificate');
  try {
    const cert = new x509.X509Certificate(Uint8Array.from(pemDecodeOne(pem, ['CERTIFICATE'], `CA certificate ${path}`)));
    return { cert, pem: pem.endsWith('\n') ? pem : pem + '\n' };
  } catch (err) {
    throw new PgmoatError('CA_CERT_INVALID', `CA certificate ${path} cannot be parsed; restore it from a backup`, { cause: err });
  }
}

/**
 * Opens the CA in `dir` for signing. The key file must not be readable by group or others; an
 * encrypted key needs its passphrase.
 */
export async function openCa(dir: string, passphrase?: string): Promise<CertificateAuthority> {
  const abs = assertCaDir(dir);
  const root = readCaCertificate(abs);
  const twoLevel = existsSync(caPath(abs, 'intermediateCert'));
  // A two-level CA signs with the intermediate: the root key (ca.key) may be offline.
  const signer = twoLevel ? readCaCertificate(abs, 'intermediateCert') : root;
  const certFile = twoLevel ? 'intermediateCert' : 'caCert';
  if (twoLevel && !(await signer.cert.verify({ publicKey: root.cert.publicKey, signatureOnly: true }))) {
    throw new PgmoatError('CA_CERT_INVALID', `${caPath(abs, 'intermediateCert')} is not signed by ${caPath(abs, 'caCert')}; restore the matching pair from a backup`);
  }
  const keyPath = caPath(abs, twoLevel ? 'intermediateKey' : 'caKey');
  const what = `${twoLevel ? 'intermediate CA key' : 'CA key'} ${keyPath}`;
  const keyData = readPrivateFile(keyPath, twoLevel ? 'intermediate CA key' : 'CA key');
  const keyObject = parsePrivateKey(keyData, { passphrase, what, passphraseOption: '--ca-passphrase-file' });
  if (!Buffer.from(signer.cert.publicKey.rawData).equals(publicSpki(keyObject))) {
    throw new PgmoatError('CA_KEY_MISMATCH', `${what} does not belong to ${caPath(abs, certFile)}; restore the matching pair from a backup`);
  }
  const signing = await toSigningKey(keyObject, what);
  const retired = twoLevel ? await readRetiredIntermediates(abs, root.cert, passphrase) : [];
  return {
    retired,
    bundlePem: twoLevel ? bundlePem(root.pem, signer.pem, retired) : root.pem,
    dir: abs,
    name: caNameOf(root.cert),
    cert: signer.cert,
    caName: caNameOf(root.cert),
    certPem: root.pem,
    chainPem: twoLevel ? signer.pem : '',
    defaults: readCaDefaults(abs),
    key: signing.key,
    algorithm: signing.algorithm,
    rsa: signing.rsa,
  };
}
