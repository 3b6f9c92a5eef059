/** What `issue` and `renew` read from their common options before they touch the CA. */
import { PgmoatError } from '../util/errors.js';
import { openCa, parseDays, parseKeyType, parseLifetime, type CertificateAuthority, type KeyType, type MaterialFormat } from '../ca/index.js';
import { readInputFile, readPassphrase } from './cli-helpers.js';
import { parsePrintFormat } from './issued-output.js';

/** The options both commands declare (with their own help texts). */
export interface IssueCommonOptions {
  env: string;
  dir: string;
  out: string;
  days?: string;
  lifetime?: string;
  csr?: string;
  keyType?: string;
  keyPassphraseFile?: string;
  caPassphraseFile?: string;
  print?: string;
}

export interface IssueInputs {
  format: MaterialFormat | undefined;
  days: number | undefined;
  /** Checked (5m-36500d); the CA bound is checked when signing. */
  lifetime: string | undefined;
  keyType: KeyType | undefined;
  csr: Buffer | undefined;
  keyPassphrase: string | undefined;
  ca: CertificateAuthority;
}

/** Checks every option and reads every file first, so that a bad one fails before the CA is opened. */
export async function readIssueInputs(opts: IssueCommonOptions): Promise<IssueInputs> {
  const format = parsePrintFormat(opts.print, opts.csr);
  if (opts.days !== undefined && opts.lifetime !== undefined) {
    throw new PgmoatError('USAGE', '--days and --lifetime both give the lifetime: pass only one');
  }
  const days = opts.days === undefined ? undefined : parseDays(opts.days);
  const lifetime = opts.lifetime === undefined ? undefined : parseLifetime(opts.lifetime).text;
  const keyType = opts.keyType === undefined ? undefined : parseKeyType(opts.keyType);
  const csr = opts.csr === undefined ? undefined : readInputFile(opts.csr, 'CSR file');
  const keyPassphrase = readPassphrase(opts.keyPassphraseFile, 'key passphrase file');
  const ca = await openCa(opts.dir, readPassphrase(opts.caPassphraseFile, 'CA passphrase file'));
  return { format, days, lifetime, keyType, csr, keyPassphrase, ca };
}
