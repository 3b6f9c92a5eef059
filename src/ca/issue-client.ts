/**
 * Issuing and renewing client certificates. Keys are generated (or a CSR checked) before the
 * lock; the duplicate check, signing, output files and inventory entry happen under it.
 */
import { existsSync, realpathSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { PgmoatError } from '../util/errors.js';
import type { CertificateAuthority } from './authority.js';
import { PRIVATE_MODE, PUBLIC_MODE } from './ca-layout.js';
import { withCaTransaction, type CaTransaction } from './ca-transaction.js';
import { keyTypeOfCertificate } from './certificate-facts.js';
import { buildClientCertificate, certificatePem, type SubjectPublicKey } from './certificate-profiles.js';
import { readCsr } from './csr.js';
import { quote, validateIdentityPart } from './identity-format.js';
import { parseDays } from './inputs.js';
import { issuedEntry, markSuperseded, unusedSerial, type InventoryEntry } from './inventory.js';
import { loadInventory } from './inventory-store.js';
import { DEFAULT_KEY_TYPE, exportPrivateKeyPem, generateKeyPair, type KeyType } from './keys.js';
import { resolveValidity, type ValidityOptions } from './validity.js';
import { extraSansOfCertificate, parseSans, type ExtraSan } from './san.js';
import type { CryptoKey } from './webcrypto-types.js';

export { DEFAULT_CLIENT_DAYS } from './ca-defaults.js';

export interface IssueClientOptions extends ValidityOptions {
  name: string;
  environment: string;
  /** A CSR (PEM or DER) made elsewhere: pgmoat signs its key and writes no key file. */
  csr?: string | Uint8Array;
  /** Sign this public key instead of generating a key pair. */
  publicKey?: CryptoKey;
  keyType?: KeyType;
  /** Encrypts the generated key file (PKCS#8, AES-256-CBC). */
  keyPassphrase?: string;
  /** Writes NAME.key (0600, when generated), NAME.crt and ca.crt here. */
  outDir?: string;
  /** DNS:/URI: subject alternative names besides pgmoat://ENV/NAME (--san); renew keeps the previous ones when absent. */
  sans?: readonly string[];
  /** Test-only: EKU serverAuth instead of clientAuth. The CLI never sets it. */
  serverAuthOnly?: boolean;
  /** Test-only: allow a second valid certificate for the same identity. The CLI never sets it. */
  allowDuplicate?: boolean;
}

export interface IssuedClient {
  entry: InventoryEntry;
  serial: string;
  /** As written to NAME.crt: the certificate, followed by the intermediate for a two-level CA. */
  certPem: string;
  /** The generated key as written (encrypted when a passphrase was given); absent for a CSR or a given public key. */
  keyPem: string | undefined;
  caPem: string;
  files: { cert: string; key: string | undefined; ca: string } | undefined;
}

export interface RenewClientOptions extends Omit<IssueClientOptions, 'allowDuplicate'> {
  /** Revoke the identity's previous certificates (reason superseded). */
  revokeOld?: boolean;
}

export interface RenewedClient extends IssuedClient {
  revoked: InventoryEntry[];
  /** The previous certificates left valid (without --revoke-old): now superseded by this one. */
  superseded: InventoryEntry[];
}

interface PreparedKey {
  publicKey: SubjectPublicKey;
  keyPem: string | undefined;
}

async function prepareKey(opts: IssueClientOptions, keyType: KeyType): Promise<PreparedKey> {
  if (opts.csr !== undefined) {
    if (opts.keyPassphrase !== undefined) {
      throw new PgmoatError('USAGE', 'a key passphrase makes no sense with a CSR: the key stays with whoever made the CSR');
    }
    const csr = await readCsr(opts.csr);
    return { publicKey: csr.publicKey, keyPem: undefined };
  }
  if (opts.publicKey) return { publicKey: opts.publicKey, keyPem: undefined };
  const pair = await generateKeyPair(keyType);
  return { publicKey: pair.publicKey, keyPem: exportPrivateKeyPem(pair.privateKey, opts.keyPassphrase) };
}

function checkOutDir(ca: CertificateAuthority, outDir: string): string {
  const abs = resolve(outDir);
  const real = existsSync(abs) ? realpathSync(abs) : abs;
  if (real === realpathSync(ca.dir)) {
    throw new PgmoatError('OUT_IS_CA_DIR', `--out must not be the CA directory: the CA keeps certificates, never client keys; choose another directory`);
  }
  return abs;
}

function liveEntries(entries: readonly InventoryEntry[], name: string, environment: string, now: Date): InventoryEntry[] {
  return entries.filter(
    (e) => e.kind === 'client' && e.name === name && e.environment === environment && e.status === 'valid' && new Date(e.notAfter) > now,
  );
}

async function signInto(
  ca: CertificateAuthority,
  tx: CaTransaction,
  opts: IssueClientOptions,
  key: PreparedKey,
  outDir: string | undefined,
  overwrite: boolean,
  extraSans: readonly ExtraSan[],
): Promise<IssuedClient> {
  const { notBefore, notAfter } = resolveValidity(ca, opts, ca.defaults.client, tx.now);
  const serial = unusedSerial(tx.inventory);
  const cert = await buildClientCertificate(ca, {
    name: opts.name,
    environment: opts.environment,
    publicKey: key.publicKey,
    serial,
    notBefore,
    notAfter,
    extraSans,
    serverAuthOnly: opts.serverAuthOnly ?? false,
  });
  const leafPem = certificatePem(cert);
  // The inventory keeps the certificate itself; the file carries the chain the client must send.
  const entry = issuedEntry({ kind: 'client', name: opts.name, environment: opts.environment, serial, notBefore, notAfter, certPem: leafPem });
  const certPem = leafPem + ca.chainPem;
  tx.inventory.certificates.push(entry);
  let files: IssuedClient['files'];
  if (outDir !== undefined) {
    const keyPath = key.keyPem !== undefined ? join(outDir, `${opts.name}.key`) : undefined;
    const certPath = join(outDir, `${opts.name}.crt`);
    const caCopy = join(outDir, 'ca.crt');
    if (keyPath !== undefined && key.keyPem !== undefined) tx.stageFile(keyPath, key.keyPem, PRIVATE_MODE, { exclusive: !overwrite });
    tx.stageFile(certPath, certPem, PUBLIC_MODE, { exclusive: !overwrite });
    tx.stageFile(caCopy, ca.certPem, PUBLIC_MODE);
    files = { cert: certPath, key: keyPath, ca: caCopy };
  }
  return { entry, serial, certPem, keyPem: key.keyPem, caPem: ca.certPem, files };
}

function validateCommon(ca: CertificateAuthority, opts: IssueClientOptions): string | undefined {
  validateIdentityPart('name', opts.name);
  validateIdentityPart('environment', opts.environment);
  if (opts.days !== undefined) parseDays(opts.days);
  parseSans(opts.sans);
  resolveValidity(ca, opts, ca.defaults.client, new Date());
  return opts.outDir === undefined ? undefined : checkOutDir(ca, opts.outDir);
}

export async function issueClient(ca: CertificateAuthority, opts: IssueClientOptions): Promise<IssuedClient> {
  const outDir = validateCommon(ca, opts);
  if (outDir !== undefined) {
    for (const f of [`${opts.name}.key`, `${opts.name}.crt`]) {
      if (existsSync(join(outDir, f))) {
        throw new PgmoatError('FILE_EXISTS', `${join(outDir, f)} already exists; pgmoat will not overwrite it (use pgmoat renew, or choose another --out)`);
      }
    }
  }
  const key = await prepareKey(opts, opts.keyType ?? DEFAULT_KEY_TYPE);
  const { value } = await withCaTransaction(ca, async (tx) => {
    if (!opts.allowDuplicate) {
      const existing = liveEntries(tx.inventory.certificates, opts.name, opts.environment, tx.now)[0];
      if (existing) {
        throw new PgmoatError(
          'IDENTITY_EXISTS',
          `${quote(opts.name)} already has a valid certificate in ${quote(opts.environment)} (serial ${existing.serial}, expires ${existing.notAfter.slice(0, 10)}); use pgmoat renew, or pgmoat revoke it first`,
        );
      }
    }
    return signInto(ca, tx, opts, key, outDir, false, parseSans(opts.sans));
  });
  return value;
}

export async function renewClient(ca: CertificateAuthority, opts: RenewClientOptions): Promise<RenewedClient> {
  const outDir = validateCommon(ca, opts);
  // Peek (without the lock) at the previous certificate for its key type; the real check is below.
  const previous = (await loadInventory(ca.dir)).certificates.filter(
    (e) => e.kind === 'client' && e.name === opts.name && e.environment === opts.environment,
  );
  if (previous.length === 0) {
    throw new PgmoatError('UNKNOWN_IDENTITY', `no certificate for ${quote(opts.name)} in ${quote(opts.environment)} to renew; use pgmoat issue`);
  }
  const lastPem = previous.at(-1)?.certificate;
  const keyType = opts.keyType ?? (lastPem ? keyTypeOfCertificate(lastPem) : undefined) ?? DEFAULT_KEY_TYPE;
  const key = await prepareKey(opts, keyType);
  const { value } = await withCaTransaction(ca, async (tx) => {
    const mine = tx.inventory.certificates.filter((e) => e.kind === 'client' && e.name === opts.name && e.environment === opts.environment);
    if (mine.length === 0) {
      throw new PgmoatError('UNKNOWN_IDENTITY', `no certificate for ${quote(opts.name)} in ${quote(opts.environment)} to renew; use pgmoat issue`);
    }
    const valid = mine.filter((e) => e.status === 'valid');
    if (valid.length === 0) {
      throw new PgmoatError('IDENTITY_REVOKED', `every certificate of ${quote(opts.name)} in ${quote(opts.environment)} is revoked; issue a new one with pgmoat issue`);
    }
    const revoked: InventoryEntry[] = [];
    if (opts.revokeOld) {
      for (const e of valid) {
        e.status = 'revoked';
        e.revokedAt = tx.now.toISOString();
        e.reason = 'superseded';
        revoked.push({ ...e });
      }
      tx.rewriteCrl();
    }
    // A renewal keeps the identity: the SANs of the newest valid certificate unless --san is given.
    const newest = valid.reduce((a, b) => (b.notBefore > a.notBefore ? b : a));
    const sans = opts.sans !== undefined && opts.sans.length > 0 ? parseSans(opts.sans) : extraSansOfCertificate(newest.certificate);
    const issued = await signInto(ca, tx, opts, key, outDir, true, sans);
    const live = valid.filter((e) => e.status === 'valid' && e.supersededBy === undefined && new Date(e.notAfter) > tx.now);
    markSuperseded(valid, issued.serial, tx.now);
    return { ...issued, revoked, superseded: live.map((e) => ({ ...e })) };
  });
  return value;
}
