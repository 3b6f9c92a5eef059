import type { Command } from 'commander';
import { renewClient, KEY_TYPES, MATERIAL_FORMATS, DEFAULT_CLIENT_DAYS } from '../../ca/index.js';
import { note, print } from '../cli-helpers.js';
import { readIssueInputs, type IssueCommonOptions } from '../issue-inputs.js';
import { reportIssued } from '../issued-output.js';

interface RenewOptions extends IssueCommonOptions {
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
    .option('--days <n>', `lifetime in days (default: the CA's client lifetime, ${DEFAULT_CLIENT_DAYS} days unless set at init)`)
    .option('--lifetime <duration>', 'lifetime as minutes, hours or days: 90m, 24h, 30d (5m at least; not with --days)')
    .option('--csr <file>', 'sign this PKCS#10 request instead of generating a key')
    .option('--key-type <type>', `type of the new key: ${KEY_TYPES.join(', ')} (default: as before)`)
    .option('--key-passphrase-file <file>', 'encrypt the new key with the passphrase in this file')
    .option('--ca-passphrase-file <file>', 'passphrase of an encrypted CA key')
    .option('--print <format>', `also print the deployment material: ${MATERIAL_FORMATS.join(', ')}`)
    .action(async (name: string, opts: RenewOptions) => {
      const { format, days, lifetime, keyType, csr, keyPassphrase, ca } = await readIssueInputs(opts);
      const renewed = await renewClient(ca, {
        name,
        environment: opts.env,
        outDir: opts.out,
        days,
        lifetime,
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
