/**
 * Creating a CA directory: CA key and certificate, the gateway's server certificate, an empty
 * signed CRL, the inventory and a starter pgmoat.yaml. Everything is built in memory first, then
 * written with O_EXCL; if a write fails, what was written is removed again.
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { resolve } from 'node:path';
import { PgmoatError } from '../util/errors.js';
import { fsyncDir, writeNewFile } from '../util/atomic-file.js';
import { CA_FILES, caPath, DIR_MODE, PRIVATE_MODE, PUBLIC_MODE, type CaFile } from './ca-layout.js';
import { LOCK_NAME } from './ca-lock.js';
import { buildCaCertificate, certificatePem, caNameOf } from './certificate-profiles.js';
import { buildCrl, DEFAULT_CRL_DAYS } from './crl.js';
import { DEFAULT_CA_NAME, parseDays, parseHosts, validateCaName } from './inputs.js';
import { emptyInventory, serializeInventory } from './inventory.js';
import { DEFAULT_KEY_TYPE, exportPrivateKeyPem, generateKeyPair, signingAlgorithmFor, type KeyType } from './keys.js';
import { signServerCertificate } from './issue-server.js';
import { starterConfig } from './starter-config.js';

const CA_DAYS = 3650;

export interface InitCaOptions {
  dir: string;
  /** Server certificate SANs. Default: localhost, 127.0.0.1, ::1. */
  hosts?: readonly string[];
  keyType?: KeyType;
  caName?: string;
  /** Encrypts ca.key (PKCS#8, AES-256-CBC). */
  passphrase?: string;
  crlDays?: number;
}

export interface InitCaResult {
  dir: string;
  files: Record<CaFile, string>;
  caName: string;
}

function checkTarget(dir: string): void {
  if (!existsSync(dir)) return;
  if (!statSync(dir).isDirectory()) throw new PgmoatError('NOT_A_DIRECTORY', `${dir} exists and is not a directory; choose another --dir`);
  const present = readdirSync(dir).filter((n) => (Object.values(CA_FILES) as string[]).includes(n) || n === LOCK_NAME);
  if (present.length > 0) {
    throw new PgmoatError(
      'CA_EXISTS',
      `${dir} already holds ${present.includes('ca.key') ? 'a CA' : present.join(', ')}; pgmoat init never overwrites a CA: choose another --dir`,
    );
  }
}

export async function initCa(opts: InitCaOptions): Promise<InitCaResult> {
  const dir = resolve(opts.dir);
  const keyType = opts.keyType ?? DEFAULT_KEY_TYPE;
  const caName = validateCaName(opts.caName ?? DEFAULT_CA_NAME);
  const hosts = parseHosts(opts.hosts);
  const crlDays = opts.crlDays === undefined ? DEFAULT_CRL_DAYS : parseDays(opts.crlDays, '--crl-days');
  if (opts.passphrase !== undefined && opts.passphrase.length === 0) {
    throw new PgmoatError('EMPTY_PASSPHRASE', 'the CA passphrase file is empty; put a passphrase in it');
  }
  checkTarget(dir);

  const now = new Date();
  const caKeys = await generateKeyPair(keyType);
  const algorithm = signingAlgorithmFor(keyType);
  const caCert = await buildCaCertificate({ caName, keys: caKeys, algorithm, notBefore: new Date(now.getTime() - 5 * 60_000), days: CA_DAYS });
  const signer = { cert: caCert, key: caKeys.privateKey, algorithm };
  const server = await signServerCertificate(signer, { hosts, keyType, now });
  const inventory = emptyInventory(crlDays);
  inventory.certificates.push(server.entry);
  inventory.crlNumber = 1;
  const crl = await buildCrl(signer, { entries: [], crlNumber: 1, days: crlDays, now });

  const contents: [CaFile, string, number][] = [
    ['caKey', exportPrivateKeyPem(caKeys.privateKey, opts.passphrase), PRIVATE_MODE],
    ['caCert', certificatePem(caCert), PUBLIC_MODE],
    ['serverKey', server.keyPem, PRIVATE_MODE],
    ['serverCert', server.certPem, PUBLIC_MODE],
    ['crl', crl.pem, PUBLIC_MODE],
    ['inventory', serializeInventory(inventory), PUBLIC_MODE],
    ['config', starterConfig({ host: '127.0.0.1' }), PUBLIC_MODE],
  ];

  checkTarget(dir); // key generation takes a while: look again right before writing
  const previousMode = existsSync(dir) ? statSync(dir).mode & 0o777 : undefined;
  let createdDir: string | undefined;
  const written: string[] = [];
  try {
    if (previousMode === undefined) createdDir = mkdirSync(dir, { recursive: true, mode: DIR_MODE }) ?? dir;
    chmodSync(dir, DIR_MODE);
    for (const [file, text, mode] of contents) {
      const path = caPath(dir, file);
      writeNewFile(path, text, mode);
      written.push(path);
    }
    fsyncDir(dir);
  } catch (err) {
    for (const path of written) {
      try {
        unlinkSync(path);
      } catch {
        // keep removing the rest
      }
    }
    try {
      if (createdDir !== undefined) rmSync(createdDir, { recursive: true, force: true });
      else if (previousMode !== undefined) chmodSync(dir, previousMode);
    } catch {
      // leave what cannot be undone
    }
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EEXIST') throw new PgmoatError('CA_EXISTS', `${e.path ?? dir} appeared while pgmoat init was running; choose another --dir`, { cause: err });
    throw new PgmoatError('WRITE_FAILED', `cannot create CA in ${dir}: ${e.code ?? e.message}`, { cause: err });
  }
  const files = Object.fromEntries(Object.keys(CA_FILES).map((k) => [k, caPath(dir, k as CaFile)])) as Record<CaFile, string>;
  return { dir, files, caName: caNameOf(caCert) };
}
