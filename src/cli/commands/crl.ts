import type { Command } from 'commander';
import { openCa, parseDays, writeCrl } from '../../ca/index.js';
import { print, readPassphrase } from '../cli-helpers.js';

interface CrlOptions {
  dir: string;
  crlDays?: string;
  caPassphraseFile?: string;
}

export function register(program: Command): void {
  program
    .command('crl')
    .description('re-sign crl.pem with a fresh next update (run it from cron well before the next update)')
    .requiredOption('--dir <dir>', 'the CA directory')
    .option('--crl-days <n>', 'lifetime of the CRL in days (kept for later CRLs; default: as before)')
    .option('--ca-passphrase-file <file>', 'passphrase of an encrypted CA key')
    .action(async (opts: CrlOptions) => {
      const crlDays = opts.crlDays === undefined ? undefined : parseDays(opts.crlDays, '--crl-days');
      const ca = await openCa(opts.dir, readPassphrase(opts.caPassphraseFile, 'CA passphrase file'));
      const { crl, crlPath } = await writeCrl(ca, { crlDays });
      print(`Wrote ${crlPath}: CRL number ${crl.crlNumber}, next update ${crl.nextUpdate.toISOString()}`);
    });
}
