import type { Command } from 'commander';
import { issueClient, openCa, parseDays, parseKeyType, KEY_TYPES, MATERIAL_FORMATS, DEFAULT_CLIENT_DAYS } from '../../ca/index.js';
import { readInputFile, readPassphrase } from '../cli-helpers.js';
import { parsePrintFormat, reportIssued } from '../issued-output.js';

interface IssueOptions {
  env: string;
  dir: string;
  out: string;
  days?: string;
  csr?: string;
  keyType?: string;
  keyPassphraseFile?: string;
  caPassphraseFile?: string;
  print?: string;
}

export function register(program: Command): void {
  program
    .command('issue')
    .description('issue a client certificate for an application NAME in an environment')
    .argument('<name>', "the identity (certificate CN): 1-63 letters, digits, '.', '_', '-'")
    .requiredOption('--env <env>', 'the environment (OU and URI SAN pgmoat://ENV/NAME), e.g. production')
    .requiredOption('--dir <dir>', 'the CA directory')
    .requiredOption('--out <outdir>', 'where to write NAME.crt, NAME.key (0600) and ca.crt (created if missing)')
    .option('--days <n>', `lifetime in days (default ${DEFAULT_CLIENT_DAYS})`)
    .option('--csr <file>', 'sign this PKCS#10 request (PEM or DER) instead of generating a key; its subject and extensions are ignored')
    .option('--key-type <type>', `type of the generated key: ${KEY_TYPES.join(', ')} (default ec-p256)`)
    .option('--key-passphrase-file <file>', 'encrypt the generated key with the passphrase in this file')
    .option('--ca-passphrase-file <file>', 'passphrase of an encrypted CA key')
    .option('--print <format>', `also print the deployment material: ${MATERIAL_FORMATS.join(', ')}`)
    .action(async (name: string, opts: IssueOptions) => {
      const format = parsePrintFormat(opts.print, opts.csr);
      const days = opts.days === undefined ? undefined : parseDays(opts.days);
      const keyType = opts.keyType === undefined ? undefined : parseKeyType(opts.keyType);
      const csr = opts.csr === undefined ? undefined : readInputFile(opts.csr, 'CSR file');
      const keyPassphrase = readPassphrase(opts.keyPassphraseFile, 'key passphrase file');
      const ca = await openCa(opts.dir, readPassphrase(opts.caPassphraseFile, 'CA passphrase file'));
      const issued = await issueClient(ca, { name, environment: opts.env, outDir: opts.out, days, keyType, csr, keyPassphrase });
      reportIssued('Issued', issued, format);
    });
}
