import type { Command } from 'commander';
import { openCa, parseDays, parseReason, revoke, REVOCATION_REASONS } from '../../ca/index.js';
import { day, print, readPassphrase } from '../cli-helpers.js';

interface RevokeOptions {
  env?: string;
  dir: string;
  reason?: string;
  crlDays?: string;
  caPassphraseFile?: string;
}

export function register(program: Command): void {
  program
    .command('revoke')
    .description("revoke a client's certificates (by NAME) or one certificate (by SERIAL) and rewrite crl.pem")
    .argument('<name-or-serial>', 'a client name (all its valid certificates) or a serial number in hex')
    .option('--env <env>', 'the environment, when NAME exists in several')
    .requiredOption('--dir <dir>', 'the CA directory')
    .option('--reason <reason>', `revocation reason: ${Object.keys(REVOCATION_REASONS).join(', ')}`, 'unspecified')
    .option('--crl-days <n>', 'lifetime of the new CRL in days (kept for later CRLs)')
    .option('--ca-passphrase-file <file>', 'passphrase of an encrypted CA key')
    .action(async (target: string, opts: RevokeOptions) => {
      const reason = parseReason(opts.reason ?? 'unspecified');
      const crlDays = opts.crlDays === undefined ? undefined : parseDays(opts.crlDays, '--crl-days');
      const ca = await openCa(opts.dir, readPassphrase(opts.caPassphraseFile, 'CA passphrase file'));
      const result = await revoke(ca, { target, environment: opts.env, reason, crlDays });
      print(
        [
          ...result.revoked.map((e) => `Revoked ${e.kind === 'server' ? 'server certificate' : e.name} (${e.environment || 'gateway'}) serial ${e.serial}, reason ${reason}`),
          `Wrote ${result.crlPath} (CRL number ${result.crl.crlNumber}, next update ${day(result.crl.nextUpdate)}); gateways using it refuse these certificates once they reload it`,
        ].join('\n'),
      );
    });
}
