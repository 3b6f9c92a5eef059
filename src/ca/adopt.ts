/**
 * `pgmoat ca adopt`: an existing CA (a hand-made openssl CA, the one a PgBouncer setup trusts)
 * becomes a pgmoat CA directory, so that pgmoat can issue, renew and revoke with it and publish
 * its CRL. The inventory is built from the certificates the user points at (each must be signed
 * by that CA); the revocations of the CA's current CRL, when given, are carried over (so adopting
 * never un-revokes anything) and a new CRL with the next CRL number is signed by the adopted key.
 *
 * A self-signed CA becomes a one-level directory (ca.crt, ca.key). A CA signed by another one
 * (given with `root`) becomes a two-level directory whose root key pgmoat never sees
 * (ca.crt = that root, intermediate.crt/.key = the adopted CA, ca-bundle.crt = both).
 */
import { resolve } from 'node:path';
import { AsnConvert } from '@peculiar/asn1-schema';
import { CRLNumber, id_ce_cRLNumber } from '@peculiar/asn1-x509';
import type { KeyObject } from 'node:crypto';
import { PgmoatError } from '../util/errors.js';
import { normalizeSerial } from '../util/serial.js';
import { pemBlocks } from '@pgmoat/client/internal';
import * as x509 from './x509.js';
import { PRIVATE_MODE, PUBLIC_MODE, type CaFile } from './ca-layout.js';
import { writeNewCaDir, checkNewCaDir, type NewCaFile } from './ca-files.js';
import { BUILT_IN_DEFAULTS, serializeDefaults } from './ca-defaults.js';
import { certificatePem } from './certificate-profiles.js';
import { buildCrl, DEFAULT_CRL_DAYS } from './crl.js';
import { parseIdentityUri } from './identity-format.js';
import { parseDays, REVOCATION_REASONS, type RevocationReason } from './inputs.js';
import { emptyInventory, issuedEntry, serializeInventory, type AdoptedRevocation, type InventoryEntry } from './inventory.js';
import { exportPrivateKeyPem, parsePrivateKey, publicSpki, toSigningKey } from './keys.js';

/** A named input file's text (the CLI reads the files; tests may pass text directly). */
export interface AdoptInput {
  path: string;
  text: string;
}

export interface AdoptCaOptions {
  dir: string;
  /** The CA certificate to adopt (PEM). */
  cert: AdoptInput;
  /** Its private key (PEM: PKCS#8, PKCS#1 or SEC1, maybe encrypted), already read with the 0600 check. */
  key: { path: string; data: Buffer };
  /** Passphrase of an encrypted key; the adopted key is written encrypted with it again. */
  passphrase?: string | undefined;
  /** The root that signed `cert`, when `cert` is not self-signed. */
  root?: AdoptInput | undefined;
  /** Files of certificates the CA issued: they make the inventory. */
  issued?: readonly AdoptInput[];
  /** The CA's current CRL: its revocations are kept and its number continued. */
  crl?: AdoptInput | undefined;
  crlDays?: number | undefined;
}

export interface AdoptCaResult {
  dir: string;
  files: Partial<Record<CaFile, string>>;
  caName: string;
  twoLevel: boolean;
  /** Inventory entries made from the issued certificates. */
  adopted: InventoryEntry[];
  /** Revocations of the old CRL whose certificate was not among the issued ones. */
  revokedWithoutCertificate: number;
  crlNumber: number;
}

const REASON_NAMES = new Map<number, RevocationReason>(Object.entries(REVOCATION_REASONS).map(([name, code]) => [code, name as RevocationReason]));

function certificatesIn(input: AdoptInput, what: string): x509.X509Certificate[] {
  const blocks = pemBlocks(input.text).filter((b) => b.label === 'CERTIFICATE');
  if (blocks.length === 0) throw new PgmoatError('ADOPT_INPUT_INVALID', `${input.path} holds no PEM certificate (${what})`);
  return blocks.map((b) => {
    try {
      return new x509.X509Certificate(b.der);
    } catch (err) {
      throw new PgmoatError('ADOPT_INPUT_INVALID', `${input.path} holds a certificate that cannot be parsed (${what})`, { cause: err });
    }
  });
}

/** What makes a certificate usable as the CA: CA:TRUE, and keyCertSign and cRLSign when keyUsage is present. */
function checkCaCertificate(cert: x509.X509Certificate, path: string, now: Date): void {
  const bc = cert.getExtension(x509.BasicConstraintsExtension);
  if (!bc?.ca) throw new PgmoatError('ADOPT_NOT_A_CA', `${path} is not a CA certificate (no basicConstraints CA:TRUE); give the CA's certificate, not a client or server one`);
  const ku = cert.getExtension(x509.KeyUsagesExtension);
  if (ku) {
    const missing = [
      ...(ku.usages & x509.KeyUsageFlags.keyCertSign ? [] : ['keyCertSign']),
      // Without cRLSign, OpenSSL (and so the gateway) refuses every CRL this CA signs.
      ...(ku.usages & x509.KeyUsageFlags.cRLSign ? [] : ['cRLSign']),
    ];
    if (missing.length > 0) {
      throw new PgmoatError('ADOPT_NOT_A_CA', `${path} has keyUsage without ${missing.join(' and ')}: pgmoat could not sign certificates and CRLs that clients and the gateway accept with it; re-issue the CA certificate with keyCertSign,cRLSign`);
    }
  }
  if (cert.notAfter.getTime() <= now.getTime()) {
    throw new PgmoatError('ADOPT_NOT_A_CA', `${path} expired on ${cert.notAfter.toISOString()}; a CA that has expired cannot be adopted`);
  }
}

async function signedBy(cert: x509.X509Certificate | x509.X509Crl, issuer: x509.X509Certificate): Promise<boolean> {
  if (cert.issuer !== issuer.subject) return false;
  try {
    // signatureOnly: an adopted certificate may be expired; its validity is not the question here.
    return cert instanceof x509.X509Crl ? await cert.verify({ publicKey: issuer.publicKey }) : await cert.verify({ publicKey: issuer.publicKey, signatureOnly: true });
  } catch {
    return false;
  }
}

function first(values: readonly string[] | undefined): string | undefined {
  return values && values.length > 0 ? values[0] : undefined;
}

/** Name and environment the way the gateway reads them: the pgmoat URI SAN first, then CN and OU. */
function identityOf(cert: x509.X509Certificate): { name: string; environment: string } {
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  for (const n of san?.names.items ?? []) {
    if (n.type !== 'url') continue;
    const id = parseIdentityUri(n.value);
    if (id) return id;
  }
  const cn = first(cert.subjectName.getField('CN'));
  const dnsOrUri = san?.names.items.find((n) => n.type === 'dns' || n.type === 'url')?.value;
  return { name: cn ?? dnsOrUri ?? normalizeSerial(cert.serialNumber), environment: first(cert.subjectName.getField('OU')) ?? '' };
}

function kindOf(cert: x509.X509Certificate): InventoryEntry['kind'] {
  const eku = cert.getExtension(x509.ExtendedKeyUsageExtension)?.usages.map(String) ?? [];
  return eku.includes(x509.ExtendedKeyUsage.serverAuth) && !eku.includes(x509.ExtendedKeyUsage.clientAuth) ? 'server' : 'client';
}

function crlNumberOf(crl: x509.X509Crl): number {
  const ext = crl.getExtension(id_ce_cRLNumber);
  if (!ext) return 0;
  const n = AsnConvert.parse(ext.value, CRLNumber).value;
  const value = typeof n === 'number' ? n : Number(BigInt(`0x${Buffer.from(n).toString('hex') || '0'}`));
  if (!Number.isSafeInteger(value)) throw new PgmoatError('ADOPT_INPUT_INVALID', 'the CRL number of the given CRL is too large to continue');
  return value;
}

export async function adoptCa(opts: AdoptCaOptions): Promise<AdoptCaResult> {
  const dir = resolve(opts.dir);
  const now = new Date();
  const crlDays = opts.crlDays === undefined ? DEFAULT_CRL_DAYS : parseDays(opts.crlDays, '--crl-days');
  checkNewCaDir(dir, 'pgmoat ca adopt');

  const caCerts = certificatesIn(opts.cert, 'the CA certificate');
  if (caCerts.length > 1) throw new PgmoatError('ADOPT_INPUT_INVALID', `${opts.cert.path} holds ${caCerts.length} certificates; give the CA certificate alone (and its root with --root)`);
  const ca = caCerts[0]!;
  checkCaCertificate(ca, opts.cert.path, now);

  const keyObject: KeyObject = parsePrivateKey(opts.key.data, { passphrase: opts.passphrase, what: `CA key ${opts.key.path}`, passphraseOption: '--passphrase-file' });
  if (!Buffer.from(ca.publicKey.rawData).equals(publicSpki(keyObject))) {
    throw new PgmoatError('CA_KEY_MISMATCH', `${opts.key.path} is not the key of ${opts.cert.path}; give the CA's own key`);
  }
  const signing = await toSigningKey(keyObject, `CA key ${opts.key.path}`);

  const selfSigned = await signedBy(ca, ca);
  let root: x509.X509Certificate | undefined;
  if (!selfSigned) {
    if (!opts.root) {
      throw new PgmoatError('ADOPT_ROOT_REQUIRED', `${opts.cert.path} is not self-signed (issuer "${ca.issuer}"): give the root that signed it with --root FILE`);
    }
    root = certificatesIn(opts.root, 'the root').find((c) => c.subject === ca.issuer);
    if (!root || !(await signedBy(ca, root)) || !(await signedBy(root, root))) {
      throw new PgmoatError('ADOPT_ROOT_INVALID', `${opts.root.path} holds no self-signed root that signed ${opts.cert.path} (issuer "${ca.issuer}")`);
    }
    checkCaCertificate(root, opts.root.path, now);
  } else if (opts.root) {
    throw new PgmoatError('ADOPT_INPUT_INVALID', `${opts.cert.path} is self-signed: it is the root, leave out --root`);
  }

  // The inventory: every certificate of the issued files that this CA signed, once.
  const adopted: InventoryEntry[] = [];
  const seen = new Set<string>();
  for (const input of opts.issued ?? []) {
    let signedHere = 0;
    for (const cert of certificatesIn(input, 'issued certificates')) {
      if (cert.subject === ca.subject && cert.issuer === ca.issuer) continue; // the CA itself, part of a chain file
      if (!(await signedBy(cert, ca))) continue;
      signedHere += 1;
      const serial = normalizeSerial(cert.serialNumber);
      if (seen.has(serial)) continue;
      seen.add(serial);
      adopted.push(issuedEntry({ kind: kindOf(cert), ...identityOf(cert), serial, notBefore: cert.notBefore, notAfter: cert.notAfter, certPem: certificatePem(cert) }));
    }
    if (signedHere === 0) throw new PgmoatError('ADOPT_FOREIGN_CERTIFICATE', `${input.path} holds no certificate signed by ${opts.cert.path}; give certificates this CA issued`);
  }

  // The old CRL's revocations stay revoked, its number goes on.
  const adoptedRevocations: AdoptedRevocation[] = [];
  let crlNumber = 0;
  if (opts.crl) {
    const blocks = pemBlocks(opts.crl.text).filter((b) => b.label === 'X509 CRL' || b.label === 'CRL');
    if (blocks.length !== 1) throw new PgmoatError('ADOPT_INPUT_INVALID', `${opts.crl.path} must hold one PEM CRL (found ${blocks.length})`);
    let crl: x509.X509Crl;
    try {
      crl = new x509.X509Crl(blocks[0]!.der);
    } catch (err) {
      throw new PgmoatError('ADOPT_INPUT_INVALID', `${opts.crl.path} is not a valid CRL`, { cause: err });
    }
    if (!(await signedBy(crl, ca))) throw new PgmoatError('ADOPT_FOREIGN_CERTIFICATE', `${opts.crl.path} is not signed by ${opts.cert.path}`);
    crlNumber = crlNumberOf(crl);
    for (const e of crl.entries) {
      const serial = normalizeSerial(e.serialNumber);
      const reason = e.reason === undefined ? undefined : REASON_NAMES.get(e.reason);
      const revokedAt = e.revocationDate.toISOString();
      const entry = adopted.find((a) => a.serial === serial);
      if (entry) Object.assign(entry, { status: 'revoked', revokedAt, ...(reason ? { reason } : {}) });
      else adoptedRevocations.push({ serial, revokedAt, ...(reason ? { reason } : {}) });
    }
  }

  const inventory = emptyInventory(crlDays);
  inventory.certificates.push(...adopted);
  if (adoptedRevocations.length > 0) inventory.adoptedRevocations = adoptedRevocations;
  inventory.crlNumber = crlNumber + 1;
  const signer = { cert: ca, key: signing.key, algorithm: signing.algorithm, caName: first((root ?? ca).subjectName.getField('CN')) ?? 'pgmoat CA' };
  const crl = await buildCrl(signer, { entries: inventory.certificates, adopted: adoptedRevocations, crlNumber: inventory.crlNumber, days: crlDays, now });

  const keyPem = exportPrivateKeyPem(keyObject, opts.passphrase);
  const caPem = certificatePem(ca);
  const contents: NewCaFile[] = root
    ? [
        ['caCert', certificatePem(root), PUBLIC_MODE],
        ['intermediateKey', keyPem, PRIVATE_MODE],
        ['intermediateCert', caPem, PUBLIC_MODE],
        ['caBundle', certificatePem(root) + caPem, PUBLIC_MODE],
      ]
    : [
        ['caKey', keyPem, PRIVATE_MODE],
        ['caCert', caPem, PUBLIC_MODE],
      ];
  contents.push(
    ['crl', crl.pem, PUBLIC_MODE],
    ['inventory', serializeInventory(inventory), PUBLIC_MODE],
    ['defaults', serializeDefaults(BUILT_IN_DEFAULTS), PUBLIC_MODE],
  );
  const files = writeNewCaDir(dir, contents, 'pgmoat ca adopt');
  return { dir, files, caName: signer.caName, twoLevel: root !== undefined, adopted, revokedWithoutCertificate: adoptedRevocations.length, crlNumber: inventory.crlNumber };
}
