/**
 * Creating a CA directory: CA key and certificate, the gateway's server certificate, an empty
 * signed CRL, the inventory, the profile defaults and a starter pgmoat.yaml. With `intermediate`,
 * ca.crt/ca.key are a root that signs only intermediate.crt, and the intermediate signs
 * everything else (so ca.key can leave the host). Everything is built in memory first, then
 * written with O_EXCL; if a write fails, what was written is removed again.
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { resolve } from 'node:path';
import { PgmoatError } from '../util/errors.js';
import { fsyncDir, writeNewFile } from '../util/atomic-file.js';
import { CA_FILES, caPath, DIR_MODE, PRIVATE_MODE, PUBLIC_MODE, type CaFile } from './ca-layout.js';
import { LOCK_NAME } from './ca-lock.js';
import { buildCaCertificate, buildIntermediateCertificate, certificatePem, caNameOf, randomSerial, type Signer } from './certificate-profiles.js';
import { BUILT_IN_DEFAULTS, serializeDefaults, type CaDefaults } from './ca-defaults.js';
import { DAY_MS, parseLifetime } from './lifetime.js';
import { buildCrl, DEFAULT_CRL_DAYS } from './crl.js';
import { DEFAULT_CA_NAME, parseDays, parseHosts, validateCaName } from './inputs.js';
import { emptyInventory, serializeInventory } from './inventory.js';
import { DEFAULT_KEY_TYPE, exportPrivateKeyPem, generateKeyPair, signingAlgorithmFor, type KeyType } from './keys.js';
import { signServerCertificate } from './issue-server.js';
import { starterConfig } from './starter-config.js';

const CA_DAYS = 3650;
/** The intermediate lives half as long as the root: it is replaced (with the root key) long before the root. */
const INTERMEDIATE_DAYS = 1825;
const BACKDATE_MS = 5 * 60_000;

export interface InitCaOptions {
  dir: string;
  /** Server certificate SANs. Default: localhost, 127.0.0.1, ::1. */
  hosts?: readonly string[];
  keyType?: KeyType;
  caName?: string;
  /** Encrypts ca.key (PKCS#8, AES-256-CBC). */
  passphrase?: string;
  crlDays?: number;
  /** Make a root (ca.crt, ca.key) and an issuing intermediate (intermediate.crt, intermediate.key). */
  intermediate?: boolean;
  /** Default lifetime of client / server certificates (`24h`, `30d`), kept in defaults.json. */
  clientLifetime?: string;
  serverLifetime?: string;
}

export interface InitCaResult {
  dir: string;
  /** The files written, by layout name. */
  files: Partial<Record<CaFile, string>>;
  caName: string;
  intermediate: boolean;
  defaults: CaDefaults;
  /** notAfter of the certificate that signs (the intermediate, or the CA itself). */
  issuerNotAfter: Date;
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

  const defaults: CaDefaults = {
    client: opts.clientLifetime === undefined ? BUILT_IN_DEFAULTS.client : parseLifetime(opts.clientLifetime, '--client-lifetime'),
    server: opts.serverLifetime === undefined ? BUILT_IN_DEFAULTS.server : parseLifetime(opts.serverLifetime, '--server-lifetime'),
  };
  const twoLevel = opts.intermediate ?? false;
  checkTarget(dir);

  const now = new Date();
  const notBefore = new Date(now.getTime() - BACKDATE_MS);
  const caKeys = await generateKeyPair(keyType);
  const algorithm = signingAlgorithmFor(keyType);
  const caCert = await buildCaCertificate({ caName, keys: caKeys, algorithm, notBefore, days: CA_DAYS, pathLength: twoLevel ? 1 : 0 });
  const root: Signer = { cert: caCert, key: caKeys.privateKey, algorithm };
  let signer = root;
  const issuing: [CaFile, string, number][] = [];
  let chainPem = '';
  if (twoLevel) {
    const keys = await generateKeyPair(keyType);
    const cert = await buildIntermediateCertificate(root, {
      caName,
      publicKey: keys.publicKey,
      serial: randomSerial(),
      notBefore,
      notAfter: new Date(notBefore.getTime() + INTERMEDIATE_DAYS * DAY_MS),
    });
    signer = { cert, key: keys.privateKey, algorithm, caName };
    chainPem = certificatePem(cert);
    issuing.push(
      ['intermediateKey', exportPrivateKeyPem(keys.privateKey, opts.passphrase), PRIVATE_MODE],
      ['intermediateCert', chainPem, PUBLIC_MODE],
      ['caBundle', certificatePem(caCert) + chainPem, PUBLIC_MODE],
    );
  }
  for (const [option, lifetime] of [['--client-lifetime', defaults.client], ['--server-lifetime', defaults.server]] as const) {
    if (now.getTime() + lifetime.ms > signer.cert.notAfter.getTime()) {
      throw new PgmoatError('INVALID_LIFETIME', `${option} ${lifetime.text} would outlive the CA that signs (${twoLevel ? INTERMEDIATE_DAYS : CA_DAYS} days)`);
    }
  }
  const server = await signServerCertificate(signer, { hosts, keyType, defaultLifetime: defaults.server, chainPem, now });
  const inventory = emptyInventory(crlDays);
  inventory.certificates.push(server.entry);
  inventory.crlNumber = 1;
  const crl = await buildCrl(signer, { entries: [], crlNumber: 1, days: crlDays, now });

  const contents: [CaFile, string, number][] = [
    ['caKey', exportPrivateKeyPem(caKeys.privateKey, opts.passphrase), PRIVATE_MODE],
    ['caCert', certificatePem(caCert), PUBLIC_MODE],
    ...issuing,
    ['serverKey', server.keyPem, PRIVATE_MODE],
    ['serverCert', server.certPem, PUBLIC_MODE],
    ['crl', crl.pem, PUBLIC_MODE],
    ['inventory', serializeInventory(inventory), PUBLIC_MODE],
    ['defaults', serializeDefaults(defaults), PUBLIC_MODE],
    ['config', starterConfig({ host: '127.0.0.1', ca: twoLevel ? CA_FILES.caBundle : CA_FILES.caCert, intermediate: twoLevel }), PUBLIC_MODE],
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
  const files = Object.fromEntries(contents.map(([file]) => [file, caPath(dir, file)])) as Partial<Record<CaFile, string>>;
  return { dir, files, caName: caNameOf(caCert), intermediate: twoLevel, defaults, issuerNotAfter: signer.cert.notAfter };
}
