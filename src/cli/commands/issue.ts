import type { Command } from 'commander';
import { issueClient, parseSans, KEY_TYPES, MATERIAL_FORMATS, DEFAULT_CLIENT_DAYS } from '../../ca/index.js';
import { collect } from '../cli-helpers.js';
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
    .option('--days <n>', `lifetime in days (default: the CA's client lifetime, ${DEFAULT_CLIENT_DAYS} days unless set at init)`)
    .option('--lifetime <duration>', 'lifetime as minutes, hours or days: 90m, 24h, 30d (5m at least; not with --days)')
    .option('--san <type:value>', 'an extra subject alternative name: DNS:api.internal or URI:spiffe://prod.example/ns/prod/sa/api (repeatable)', collect)
    .option('--csr <file>', 'sign this PKCS#10 request (PEM or DER) instead of generating a key; its subject and extensions are ignored')
    .option('--key-type <type>', `type of the generated key: ${KEY_TYPES.join(', ')} (default ec-p256)`)
    .option('--key-passphrase-file <file>', 'encrypt the generated key with the passphrase in this file')
    .option('--ca-passphrase-file <file>', 'passphrase of an encrypted CA key')
    .option('--print <format>', `also print the deployment material: ${MATERIAL_FORMATS.join(', ')}`)
    .action(async (name: string, opts: IssueCommonOptions & { san?: string[] }) => {
      parseSans(opts.san);
      const { format, days, lifetime, keyType, csr, keyPassphrase, ca } = await readIssueInputs(opts);
      const issued = await issueClient(ca, { name, environment: opts.env, outDir: opts.out, days, lifetime, keyType, csr, keyPassphrase, sans: opts.san });
      reportIssued('Issued', issued, format);
    });
}
