import type { Command } from 'commander';
import { openCa, parseDays, writeCrl } from '../../ca/index.js';
import { print, readPassphrase } from '../cli-helpers.js';
import { rootCrlRewriter } from '../../ca/revoke-intermediate.js';

interface CrlOptions {
  dir: string;
  crlDays?: string;
  caPassphraseFile?: string;
  rootKey?: string;
  rootPassphraseFile?: string;
}

export function register(program: Command): void {
  program
    .command('crl')
    .description('re-sign crl.pem with a fresh next update (run it from cron well before the next update)')
    .requiredOption('--dir <dir>', 'the CA directory')
    .option('--crl-days <n>', 'lifetime of the CRL in days (kept for later CRLs; default: as before)')
    .option('--ca-passphrase-file <file>', 'passphrase of an encrypted CA key')
    .option('--root-key <file>', 'two-level CA: also re-sign the root CRL (root-crl.pem) with the root key brought back from offline')
    .option('--root-passphrase-file <file>', 'passphrase of an encrypted root key (default: the --ca-passphrase-file one)')
    .action(async (opts: CrlOptions) => {
      const crlDays = opts.crlDays === undefined ? undefined : parseDays(opts.crlDays, '--crl-days');
      const passphrase = readPassphrase(opts.caPassphraseFile, 'CA passphrase file');
      const ca = await openCa(opts.dir, passphrase);
      const signRoot =
        opts.rootKey === undefined
          ? undefined
          : await rootCrlRewriter(ca, { rootKeyPath: opts.rootKey, rootPassphrase: readPassphrase(opts.rootPassphraseFile, 'root passphrase file') ?? passphrase });
      const { crl, crlPath } = await writeCrl(ca, { crlDays, signRoot });
      print(`Wrote ${crlPath}: CRL number ${crl.crlNumber}, next update ${crl.nextUpdate.toISOString()}`);
    });
}
