import type { Command } from 'commander';
import { renewClient, KEY_TYPES, MATERIAL_FORMATS, DEFAULT_CLIENT_DAYS } from '../../ca/index.js';
import { note, print } from '../cli-helpers.js';
import { readIssueInputs, type IssueCommonOptions } from '../issue-inputs.js';
import { reportIssued } from '../issued-output.js';
import { runRemoteRenew, type RemoteRenewCliOptions } from '../renew-remote.js';

interface RenewOptions extends IssueCommonOptions, Partial<RemoteRenewCliOptions> {
  revokeOld?: boolean;
}

export function register(program: Command): void {
  program
    .command('renew')
    .description('issue a replacement certificate with a new key for an existing identity')
    .argument('[name]', 'the identity to renew (not with --remote)')
    .option('--env <env>', 'its environment (required without --remote)')
    .option('--dir <dir>', 'the CA directory (required without --remote)')
    .option('--out <outdir>', 'where to write NAME.crt, NAME.key (0600) and ca.crt (replacing them; required without --remote)')
    .option('--revoke-old', 'revoke the previous certificates now (reason superseded); by default they stay valid until they expire')
    .option('--days <n>', `lifetime in days (default: the CA's client lifetime, ${DEFAULT_CLIENT_DAYS} days unless set at init)`)
    .option('--lifetime <duration>', 'lifetime as minutes, hours or days: 90m, 24h, 30d (5m at least; not with --days)')
    .option('--csr <file>', 'sign this PKCS#10 request instead of generating a key')
    .option('--key-type <type>', `type of the new key: ${KEY_TYPES.join(', ')} (default: as before)`)
    .option('--key-passphrase-file <file>', 'encrypt the new key with the passphrase in this file')
    .option('--ca-passphrase-file <file>', 'passphrase of an encrypted CA key')
    .option('--print <format>', `also print the deployment material: ${MATERIAL_FORMATS.join(', ')}`)
    .option('--remote <url>', 'renew through the renewal service at https://HOST:PORT with the current pair (--cert, --key): no CA directory')
    .option('--cert <file>', 'with --remote: the current certificate, replaced in place')
    .option('--key <file>', 'with --remote: the current key, replaced in place by a new one (0600)')
    .option('--ca <file>', 'with --remote: the CA bundle the service is checked against (default: ca.crt beside --cert)')
    .action(async (name: string | undefined, opts: RenewOptions, cmd: Command) => {
      const usage: (message: string) => never = (message) => cmd.error(`error: ${message}`, { exitCode: 2, code: 'pgmoat.usage' });
      if (opts.remote !== undefined) return runRemoteRenew(name, { ...opts, remote: opts.remote }, usage);
      if (name === undefined || opts.env === undefined || opts.dir === undefined || opts.out === undefined) {
        usage('renew needs NAME, --env, --dir and --out (or --remote URL --cert F --key F)');
      }
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
      for (const e of renewed.superseded) say(`Previous certificate ${e.serial} is now "superseded" in pgmoat list; it stays valid until ${e.notAfter.slice(0, 10)} (revoke it with: pgmoat revoke ${e.serial} --dir ${opts.dir})`);
    });
}
