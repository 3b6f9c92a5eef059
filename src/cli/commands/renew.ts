import type { Command } from 'commander';
import { openCa, parseDays, parseKeyType, renewClient, KEY_TYPES, MATERIAL_FORMATS, DEFAULT_CLIENT_DAYS } from '../../ca/index.js';
import { note, print, readInputFile, readPassphrase } from '../cli-helpers.js';
import { parsePrintFormat, reportIssued } from '../issued-output.js';

interface RenewOptions {
  env: string;
  dir: string;
  out: string;
  days?: string;
  csr?: string;
  keyType?: string;
  keyPassphraseFile?: string;
  caPassphraseFile?: string;
  print?: string;
  revokeOld?: boolean;
}

export function register(program: Command): void {
  program
    .command('renew')
    .description('issue a replacement certificate with a new key for an existing identity')
    .argument('<name>', 'the identity to renew')
    .requiredOption('--env <env>', 'its environment')
    .requiredOption('--dir <dir>', 'the CA directory')
    .requiredOption('--out <outdir>', 'where to write NAME.crt, NAME.key (0600) and ca.crt (replacing them)')
    .option('--revoke-old', 'revoke the previous certificates now (reason superseded); by default they stay valid until they expire')
    .option('--days <n>', `lifetime in days (default ${DEFAULT_CLIENT_DAYS})`)
    .option('--csr <file>', 'sign this PKCS#10 request instead of generating a key')
    .option('--key-type <type>', `type of the new key: ${KEY_TYPES.join(', ')} (default: as before)`)
    .option('--key-passphrase-file <file>', 'encrypt the new key with the passphrase in this file')
    .option('--ca-passphrase-file <file>', 'passphrase of an encrypted CA key')
    .option('--print <format>', `also print the deployment material: ${MATERIAL_FORMATS.join(', ')}`)
    .action(async (name: string, opts: RenewOptions) => {
      const format = parsePrintFormat(opts.print, opts.csr);
      const days = opts.days === undefined ? undefined : parseDays(opts.days);
      const keyType = opts.keyType === undefined ? undefined : parseKeyType(opts.keyType);
      const csr = opts.csr === undefined ? undefined : readInputFile(opts.csr, 'CSR file');
      const keyPassphrase = readPassphrase(opts.keyPassphraseFile, 'key passphrase file');
      const ca = await openCa(opts.dir, readPassphrase(opts.caPassphraseFile, 'CA passphrase file'));
      const renewed = await renewClient(ca, {
        name,
        environment: opts.env,
        outDir: opts.out,
        days,
        keyType,
        csr,
        keyPassphrase,
        revokeOld: opts.revokeOld ?? false,
      });
      reportIssued('Renewed', renewed, format);
      const say = format ? note : print;
      for (const e of renewed.revoked) say(`Revoked previous certificate ${e.serial} (superseded); crl.pem rewritten`);
    });
}
