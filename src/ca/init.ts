/**
 * Creating a CA directory: CA key and certificate, the gateway's server certificate, an empty
 * signed CRL, the inventory, the profile defaults and a starter pgmoat.yaml. With `intermediate`,
 * ca.crt/ca.key are a root that signs only intermediate.crt, and the intermediate signs
 * everything else (so ca.key can leave the host). Everything is built in memory first, then
 * written with O_EXCL; if a write fails, what was written is removed again.
 */
import { resolve } from 'node:path';
import { PgmoatError } from '../util/errors.js';
import { CA_FILES, PRIVATE_MODE, PUBLIC_MODE, type CaFile } from './ca-layout.js';
import { checkNewCaDir, writeNewCaDir, type NewCaFile } from './ca-files.js';
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
  checkNewCaDir(dir, 'pgmoat init');

  const now = new Date();
  const notBefore = new Date(now.getTime() - BACKDATE_MS);
  const caKeys = await generateKeyPair(keyType);
  const algorithm = signingAlgorithmFor(keyType);
  const caCert = await buildCaCertificate({ caName, keys: caKeys, algorithm, notBefore, days: CA_DAYS, pathLength: twoLevel ? 1 : 0 });
  const root: Signer = { cert: caCert, key: caKeys.privateKey, algorithm };
  let signer = root;
  const issuing: NewCaFile[] = [];
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

  const contents: NewCaFile[] = [
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

  const files = writeNewCaDir(dir, contents, 'pgmoat init');
  return { dir, files, caName: caNameOf(caCert), intermediate: twoLevel, defaults, issuerNotAfter: signer.cert.notAfter };
}
