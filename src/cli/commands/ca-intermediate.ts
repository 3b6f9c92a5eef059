/**
 * `pgmoat ca rotate-intermediate`, `pgmoat ca revoke-intermediate` and `pgmoat ca intermediates`:
 * the intermediates of a two-level CA (src/ca/rotate-intermediate.ts, revoke-intermediate.ts).
 */
import type { Command } from 'commander';
import { assertCaDir, openCa } from '../../ca/authority.js';
import { listIntermediates } from '../../ca/intermediates.js';
import { parseKeyType } from '../../ca/keys.js';
import { parseDays } from '../../ca/inputs.js';
import { rotateIntermediate, DEFAULT_INTERMEDIATE_LIFETIME } from '../../ca/rotate-intermediate.js';
import { parseIntermediateReason, revokeIntermediate, DEFAULT_ROOT_CRL_DAYS, INTERMEDIATE_REASONS } from '../../ca/revoke-intermediate.js';
import { day, print, readPassphrase } from '../cli-helpers.js';

interface RootOptions {
  dir: string;
  rootKey?: string;
  rootPassphraseFile?: string;
  caPassphraseFile?: string;
}

/** The root key's passphrase: its own file, else the CA passphrase (init encrypts both with one). */
function rootPassphrase(opts: RootOptions): string | undefined {
  return readPassphrase(opts.rootPassphraseFile, 'root passphrase file') ?? readPassphrase(opts.caPassphraseFile, 'CA passphrase file');
}

function rootOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--dir <dir>', 'the CA directory (made with pgmoat init --intermediate)')
    .option('--root-key <file>', 'the root CA key, brought back from offline (default: ca.key of the CA directory)')
    .option('--root-passphrase-file <file>', 'passphrase of an encrypted root key (default: the --ca-passphrase-file one)')
    .option('--ca-passphrase-file <file>', 'passphrase of the encrypted intermediate keys');
}

export function registerIntermediateCommands(ca: Command): void {
  rootOptions(ca.command('rotate-intermediate').description('re-issue the intermediate: a new key and certificate signed by the root; the old one keeps serving what it issued'))
    .option('--lifetime <duration>', `lifetime of the new intermediate (cut to the root's)`, DEFAULT_INTERMEDIATE_LIFETIME)
    .option('--key-type <type>', 'key type of the new intermediate (default: that of the current one)')
    .addHelpText(
      'after',
      '\nThe old intermediate moves to retired-intermediates/ and stays in ca-bundle.crt: certificates it issued keep\n' +
        'working until they expire or renew (renewal issues from the new one), and crl.pem keeps a CRL signed by it.\n' +
        'Gateways watching ca-bundle.crt and crl.pem load both at once. After a key leak, revoke the old one next:\n' +
        '  pgmoat ca revoke-intermediate --dir DIR --serial OLD_SERIAL --root-key /media/offline/ca.key',
    )
    .action(async (opts: RootOptions & { lifetime: string; keyType?: string }) => {
      const passphrase = readPassphrase(opts.caPassphraseFile, 'CA passphrase file');
      const ca = await openCa(opts.dir, passphrase);
      const r = await rotateIntermediate(ca, {
        rootKeyPath: opts.rootKey,
        rootPassphrase: rootPassphrase(opts),
        passphrase,
        lifetime: opts.lifetime,
        keyType: opts.keyType === undefined ? undefined : parseKeyType(opts.keyType),
      });
      print(
        `New intermediate ${r.serial}, valid until ${day(r.notAfter)}; the old one (${r.oldSerial}) is in ${r.retiredCertPath}.\n` +
          `Wrote ${r.bundlePath} (root + new + old intermediates) and crl.pem (CRL number ${r.crl.crlNumber}).\n` +
          'Gateways that use ca-bundle.crt as tls.ca and crl.pem as tls.crl pick both up by themselves; copy them to any other.\n' +
          'Put the root key back offline.',
      );
    });

  rootOptions(ca.command('revoke-intermediate').description('revoke a retired intermediate: the root signs a CRL listing it, and every certificate under it is refused'))
    .requiredOption('--serial <hex>', 'serial of the intermediate (see pgmoat ca intermediates)')
    .option('--reason <reason>', `one of ${Object.keys(INTERMEDIATE_REASONS).join(', ')}`, 'cACompromise')
    .option('--root-crl-days <n>', 'lifetime of the root CRL in days (re-sign it with pgmoat crl --root-key before then)', String(DEFAULT_ROOT_CRL_DAYS))
    .addHelpText(
      'after',
      '\nThe intermediate that signs now cannot be revoked: run pgmoat ca rotate-intermediate first. The root CRL is\n' +
        'written to root-crl.pem and carried in crl.pem; the intermediate leaves ca-bundle.crt. Gateways refuse every\n' +
        'certificate under it at the handshake and end live sessions of them.',
    )
    .action(async (opts: RootOptions & { serial: string; reason: string; rootCrlDays: string }) => {
      const ca = await openCa(opts.dir, readPassphrase(opts.caPassphraseFile, 'CA passphrase file'));
      const r = await revokeIntermediate(ca, {
        serial: opts.serial,
        reason: parseIntermediateReason(opts.reason),
        rootKeyPath: opts.rootKey,
        rootPassphrase: rootPassphrase(opts),
        rootCrlDays: parseDays(opts.rootCrlDays, '--root-crl-days'),
      });
      print(`Revoked intermediate ${r.serial}: wrote ${r.rootCrlPath} and ${r.crlPath} (CRL number ${r.crl.crlNumber}). Put the root key back offline.`);
    });

  ca.command('intermediates')
    .description('the root and the intermediates of a CA directory, with their status')
    .requiredOption('--dir <dir>', 'the CA directory')
    .option('--json', 'one JSON array')
    .action((opts: { dir: string; json?: boolean }) => {
      const rows = listIntermediates(assertCaDir(opts.dir));
      if (opts.json) return print(JSON.stringify(rows, null, 2));
      print('ROLE     SERIAL                            STATUS   NOT AFTER   IN BUNDLE');
      for (const r of rows) {
        print(`${r.role.padEnd(8)} ${r.serial.padEnd(33)} ${r.status.padEnd(8)} ${day(r.notAfter)}  ${r.inBundle ? 'yes' : 'no'}${r.revokedAt ? `  (revoked ${day(r.revokedAt)})` : ''}`);
      }
    });
}
