import type { Command } from 'commander';
import { issueClient, KEY_TYPES, MATERIAL_FORMATS, DEFAULT_CLIENT_DAYS } from '../../ca/index.js';
import { readIssueInputs, type IssueCommonOptions } from '../issue-inputs.js';
import { reportIssued } from '../issued-output.js';

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
    .action(async (name: string, opts: IssueCommonOptions) => {
      const { format, days, keyType, csr, keyPassphrase, ca } = await readIssueInputs(opts);
      const issued = await issueClient(ca, { name, environment: opts.env, outDir: opts.out, days, keyType, csr, keyPassphrase });
      reportIssued('Issued', issued, format);
    });
}
