/**
 * A CA inventory of thousands of certificates for the dashboard's scale test, made in seconds.
 *
 * The CA's own profile (buildClientCertificate) signs one template certificate per environment;
 * each certificate of the inventory is that template's to-be-signed part with its serial, its
 * validity and its name (the same length: CN and the pgmoat:// URI SAN) replaced, signed with the
 * CA key by node:crypto. @peculiar/x509 takes about 4 ms per certificate here (its ASN.1 work),
 * which at 10,000 is 40 s; this takes a fraction of a millisecond. The entries are the CA's own
 * (issuedEntry) and go in through ONE CA transaction (issueClient rewrites the whole inventory
 * per certificate, quadratic at this size), which also re-signs the CRL, so the revoked ones are
 * revoked for the gateway too. Every certificate signs the same public key: only the session
 * identities connect, with the key returned here.
 */
import { createPrivateKey, X509Certificate, sign, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { caPath } from '../../src/ca/ca-layout.js';
import { buildClientCertificate, randomSerial } from '../../src/ca/certificate-profiles.js';
import { withCaTransaction } from '../../src/ca/ca-transaction.js';
import { issuedEntry } from '../../src/ca/inventory.js';
import { exportPrivateKeyPem, generateKeyPair } from '../../src/ca/keys.js';
import { pemEncode } from '../../src/ca/pem.js';
import type { CertificateAuthority, RevocationReason } from '../../src/ca/index.js';

const DAY = 86_400_000;
export const SCALE_ENVIRONMENTS = ['production', 'staging', 'dev', 'ci'] as const;
const REASONS: RevocationReason[] = ['keyCompromise', 'superseded', 'cessationOfOperation', 'affiliationChanged'];
/** Names are all this long, so that one template per environment fits every certificate. */
const NAME_LENGTH = 9;
const TEMPLATE_NAME = 'tmpl-0000';
const TEMPLATE_FROM = new Date('2001-02-03T04:05:06Z');
const TEMPLATE_TO = new Date('2002-03-04T05:06:07Z');

export interface ScaleIdentity {
  name: string;
  environment: string;
  serial: string;
  certPem: string;
}

export interface ScaleInventory {
  /** The shared private key (PKCS#8 PEM) of every certificate made here. */
  keyPem: string;
  /** The certificates meant for sessions: valid, in `production`, CN `load-NNNN`. */
  identities: ScaleIdentity[];
  /** The name of the last certificate made (the greatest). */
  lastName: string;
  revoked: number;
  nearExpiry: number;
  expired: number;
}

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);
}

/** The [start, end) of the DER element at `at`, and where its contents start. */
function element(der: Buffer, at: number): { start: number; body: number; end: number } {
  let len = der[at + 1]!;
  let body = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + der[body + i]!;
    body += n;
  }
  return { start: at, body, end: body + len };
}

/** X.509 UTCTime (years before 2050), as @peculiar/x509 writes it. */
function utcTime(d: Date): Buffer {
  return Buffer.from(d.toISOString().replace(/^\d\d(\d\d)-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.\d+Z$/, '$1$2$3$4$5$6Z'), 'ascii');
}

/** Every offset of `needle` in `hay`; throws unless there are `expect` of them. */
function offsets(hay: Buffer, needle: Buffer, expect: number, what: string): number[] {
  const out: number[] = [];
  for (let i = hay.indexOf(needle); i >= 0; i = hay.indexOf(needle, i + 1)) out.push(i);
  if (out.length !== expect) throw new Error(`template certificate: ${what} found ${out.length} times, expected ${expect}`);
  return out;
}

interface Template {
  tbs: Buffer;
  algorithm: Buffer;
  serialAt: number;
  fromAt: number;
  toAt: number;
  nameAt: number[];
}

async function template(ca: CertificateAuthority, environment: string, publicKey: ArrayBuffer): Promise<Template> {
  const serial = randomSerial();
  const cert = await buildClientCertificate(ca, { name: TEMPLATE_NAME, environment, publicKey, serial, notBefore: TEMPLATE_FROM, notAfter: TEMPLATE_TO });
  const der = Buffer.from(cert.rawData);
  const outer = element(der, 0);
  const tbsEl = element(der, outer.body);
  const algEl = element(der, tbsEl.end);
  const tbs = der.subarray(tbsEl.start, tbsEl.end);
  return {
    tbs,
    algorithm: der.subarray(algEl.start, algEl.end),
    serialAt: offsets(tbs, Buffer.from(serial, 'hex'), 1, 'the serial')[0]!,
    fromAt: offsets(tbs, utcTime(TEMPLATE_FROM), 1, 'notBefore')[0]!,
    toAt: offsets(tbs, utcTime(TEMPLATE_TO), 1, 'notAfter')[0]!,
    // The CN and the URI SAN pgmoat://ENV/NAME.
    nameAt: offsets(tbs, Buffer.from(TEMPLATE_NAME, 'ascii'), 2, 'the name'),
  };
}

function signFrom(t: Template, key: KeyObject, o: { serial: string; name: string; notBefore: Date; notAfter: Date }): string {
  const tbs = Buffer.from(t.tbs);
  Buffer.from(o.serial, 'hex').copy(tbs, t.serialAt);
  utcTime(o.notBefore).copy(tbs, t.fromAt);
  utcTime(o.notAfter).copy(tbs, t.toAt);
  for (const at of t.nameAt) tbs.write(o.name, at, 'ascii');
  const signature = sign('sha256', tbs, key);
  const der = tlv(0x30, Buffer.concat([tbs, t.algorithm, tlv(0x03, Buffer.concat([Buffer.from([0]), signature]))]));
  return pemEncode(der, 'CERTIFICATE');
}

/**
 * Adds `count` certificates to the inventory of `ca` (an ECDSA CA), the first `sessionIdentities`
 * of them the valid production `load-NNNN` identities; of the rest 1 in 25 is revoked with a
 * reason, 1 in 40 expires within a week, 1 in 100 has expired, the others have lifetimes of one
 * to twelve months, in four environments.
 */
export async function addScaleInventory(ca: CertificateAuthority, count: number, sessionIdentities: number): Promise<ScaleInventory> {
  if (ca.algorithm.name !== 'ECDSA' || ca.algorithm.hash !== 'SHA-256') throw new Error('addScaleInventory signs with ECDSA SHA-256 only');
  const keys = await generateKeyPair('ec-p256');
  const spki = await globalThis.crypto.subtle.exportKey('spki', keys.publicKey);
  // The CA key from its file (the opened CA holds a non-extractable CryptoKey): a one-level CA.
  if (ca.chainPem !== '') throw new Error('addScaleInventory signs for a one-level CA only');
  const caKey = createPrivateKey(readFileSync(caPath(ca.dir, 'caKey')));
  const templates = new Map<string, Template>();
  for (const env of SCALE_ENVIRONMENTS) templates.set(env, await template(ca, env, spki));
  // The signing is checked once against node:crypto's own parser and the CA's key.
  const caPublic = new X509Certificate(ca.certPem).publicKey;

  const out: ScaleInventory = { keyPem: exportPrivateKeyPem(keys.privateKey), identities: [], lastName: '', revoked: 0, nearExpiry: 0, expired: 0 };
  // Whole seconds: the certificate carries no more.
  const now = Math.floor(Date.now() / 1000) * 1000;
  await withCaTransaction(ca, async (tx) => {
    const serials = new Set(tx.inventory.certificates.map((e) => e.serial));
    for (let i = 0; i < count; i++) {
      let serial = randomSerial();
      while (serials.has(serial)) serial = randomSerial();
      serials.add(serial);
      const session = i < sessionIdentities;
      const name = session ? `load-${String(i).padStart(NAME_LENGTH - 5, '0')}` : `svc-${String(i).padStart(NAME_LENGTH - 4, '0')}`;
      const environment = session ? 'production' : SCALE_ENVIRONMENTS[i % SCALE_ENVIRONMENTS.length]!;
      let notBefore: Date;
      let notAfter: Date;
      if (!session && i % 100 === 7) {
        notBefore = new Date(now - 120 * DAY);
        notAfter = new Date(now - (1 + (i % 20)) * DAY);
        out.expired++;
      } else if (!session && i % 40 === 3) {
        notBefore = new Date(now - 80 * DAY);
        notAfter = new Date(now + (1 + (i % 6)) * DAY);
        out.nearExpiry++;
      } else {
        notBefore = new Date(now - (i % 300) * DAY - 60_000);
        notAfter = new Date(notBefore.getTime() + (30 + (i % 12) * 30) * DAY);
        if (notAfter.getTime() < now + 8 * DAY) notAfter = new Date(now + (8 + (i % 50)) * DAY);
      }
      const certPem = signFrom(templates.get(environment)!, caKey, { serial, name, notBefore, notAfter });
      if (i === 0 && !new X509Certificate(certPem).verify(caPublic)) throw new Error('a scale certificate does not verify against the CA');
      const entry = issuedEntry({ kind: 'client', name, environment, serial, notBefore, notAfter, certPem });
      if (!session && i % 25 === 11) {
        entry.status = 'revoked';
        entry.revokedAt = new Date(now - (i % 90) * DAY).toISOString();
        entry.reason = REASONS[i % REASONS.length];
        out.revoked++;
      }
      tx.inventory.certificates.push(entry);
      out.lastName = name;
      if (session) out.identities.push({ name, environment, serial, certPem: certPem + ca.chainPem });
    }
    tx.rewriteCrl();
  });
  return out;
}
