/**
 * Revoking an intermediate of a two-level CA (its key leaked, or it is retired for good): the
 * root signs a CRL (root-crl.pem, with the root key brought back from offline) that lists its
 * serial, crl.pem carries that CRL from then on, the intermediate leaves ca-bundle.crt and its own
 * CRL is no longer written. The gateway refuses every chain through it at the handshake and ends
 * live sessions of certificates under it (revocation/chain.ts); the renewal service renews none
 * of them. The intermediate that signs now cannot be revoked: rotate first, then revoke the old one.
 */
import { PgmoatError } from '../util/errors.js';
import { normalizeSerial, parseSerial } from '../util/serial.js';
import * as x509 from './x509.js';
import type { CertificateAuthority } from './authority.js';
import { caPath, PUBLIC_MODE } from './ca-layout.js';
import { withCaTransaction } from './ca-transaction.js';
import { signCrl, type BuiltCrl } from './crl.js';
import { quote } from './identity-format.js';
import { bundlePem, openRoot, readRevokedIntermediates, type RetiredIntermediate } from './intermediates.js';
import { assertTwoLevel } from './rotate-intermediate.js';
import type { Signer } from './certificate-profiles.js';

/** The root's CRL is re-signed only when the root key is at hand: it is made to last. */
export const DEFAULT_ROOT_CRL_DAYS = 365;

/** RFC 5280 reasons that fit a CA certificate. */
export const INTERMEDIATE_REASONS = { unspecified: 0, cACompromise: 2, superseded: 4, cessationOfOperation: 5 } as const;
export type IntermediateReason = keyof typeof INTERMEDIATE_REASONS;

export function parseIntermediateReason(value: string): IntermediateReason {
  if (Object.hasOwn(INTERMEDIATE_REASONS, value)) return value as IntermediateReason;
  throw new PgmoatError('INVALID_REASON', `invalid --reason ${quote(value)}: use one of ${Object.keys(INTERMEDIATE_REASONS).join(', ')}`);
}

export interface RootCrlOptions {
  rootKeyPath?: string | undefined;
  rootPassphrase?: string | undefined;
  /** nextUpdate - thisUpdate of the root CRL; default DEFAULT_ROOT_CRL_DAYS. */
  rootCrlDays?: number | undefined;
}

export interface RevokedIntermediateResult {
  serial: string;
  crl: BuiltCrl;
  rootCrlPath: string;
  crlPath: string;
}

/** Signs the root CRL listing what root-crl.pem lists now plus `add`. */
function rootCrlSigner(ca: CertificateAuthority, root: Signer, days: number, add?: { serial: string; reason: number }) {
  const listed = readRevokedIntermediates(ca.dir).map((r) => ({ serial: r.serial, revokedAt: r.revokedAt, reason: r.reason ?? 0 }));
  return async (crlNumber: number, now: Date): Promise<string> => {
    const revoked = add ? [...listed, { serial: add.serial, revokedAt: now, reason: add.reason }] : listed;
    return (await signCrl(root, { revoked, crlNumber, days, now })).pem;
  };
}

async function rootOf(ca: CertificateAuthority, opts: RootCrlOptions): Promise<Signer> {
  return openRoot(ca.dir, new x509.X509Certificate(ca.certPem), { keyPath: opts.rootKeyPath, passphrase: opts.rootPassphrase });
}

export async function revokeIntermediate(
  ca: CertificateAuthority,
  opts: RootCrlOptions & { serial: string; reason?: IntermediateReason | undefined },
): Promise<RevokedIntermediateResult> {
  assertTwoLevel(ca, 'pgmoat ca revoke-intermediate');
  const serial = parseSerial(opts.serial);
  if (serial === undefined) throw new PgmoatError('USAGE', `invalid serial ${quote(opts.serial)}: give it in hex as pgmoat ca intermediates prints it`);
  if (serial === normalizeSerial(ca.cert.serialNumber)) {
    throw new PgmoatError('INTERMEDIATE_CURRENT', `${serial} is the intermediate that signs now: run pgmoat ca rotate-intermediate first, then revoke ${serial}`);
  }
  const target = ca.retired.find((r) => r.serial === serial);
  if (!target) throw new PgmoatError('INTERMEDIATE_UNKNOWN', `no retired intermediate of ${ca.dir} has serial ${serial}; see pgmoat ca intermediates --dir ${ca.dir}`);
  if (target.revoked) throw new PgmoatError('INTERMEDIATE_ALREADY_REVOKED', `intermediate ${serial} is already revoked by the root CRL`);
  const root = await rootOf(ca, opts);
  const retired: RetiredIntermediate[] = ca.retired.map((r) => (r === target ? { ...r, revoked: true, signer: undefined } : r));
  const bundle = bundlePem(ca.certPem, ca.chainPem, retired);
  const after: CertificateAuthority = { ...ca, retired, bundlePem: bundle };
  const sign = rootCrlSigner(ca, root, opts.rootCrlDays ?? DEFAULT_ROOT_CRL_DAYS, { serial, reason: INTERMEDIATE_REASONS[opts.reason ?? 'cACompromise'] });
  const { crl } = await withCaTransaction(after, async (tx) => {
    tx.stageFile(caPath(ca.dir, 'caBundle'), bundle, PUBLIC_MODE);
    tx.rewriteRootCrl(sign);
  });
  return { serial, crl: crl!, rootCrlPath: caPath(ca.dir, 'rootCrl'), crlPath: caPath(ca.dir, 'crl') };
}

/** `pgmoat crl --root-key`: the root CRL re-signed (fresh nextUpdate) along with the others. */
export async function rootCrlRewriter(ca: CertificateAuthority, opts: RootCrlOptions): Promise<(crlNumber: number, now: Date) => Promise<string>> {
  assertTwoLevel(ca, 'pgmoat crl --root-key');
  return rootCrlSigner(ca, await rootOf(ca, opts), opts.rootCrlDays ?? DEFAULT_ROOT_CRL_DAYS);
}
