import type { Command } from 'commander';
import { initCa, parseDays, parseHosts, parseKeyType, DEFAULT_CA_NAME, KEY_TYPES, DEFAULT_CRL_DAYS, readInventory } from '../../ca/index.js';
import { collect, day, print, readPassphrase } from '../cli-helpers.js';

interface InitOptions {
  dir: string;
  host?: string[];
  keyType: string;
  caName: string;
  caPassphraseFile?: string;
  crlDays?: string;
}

export function register(program: Command): void {
  program
    .command('init')
    .description('create a CA directory: CA key and certificate, the gateway certificate, an empty CRL, the inventory and a starter pgmoat.yaml')
    .requiredOption('--dir <dir>', 'the CA directory to create (mode 0700); must not hold a CA already')
    .option('--host <name-or-ip>', 'a DNS name or IP clients use to reach the gateway (repeatable; default: localhost, 127.0.0.1, ::1)', collect)
    .option('--key-type <type>', `key type of the CA and gateway keys: ${KEY_TYPES.join(', ')}`, 'ec-p256')
    .option('--ca-name <name>', 'the CA name (subject CN of ca.crt, O of issued certificates)', DEFAULT_CA_NAME)
    .option('--ca-passphrase-file <file>', 'encrypt ca.key with the passphrase in this file (mode 0600)')
    .option('--crl-days <n>', `lifetime of each CRL in days (default ${DEFAULT_CRL_DAYS})`)
    .action(async (opts: InitOptions) => {
      const keyType = parseKeyType(opts.keyType);
      if (opts.crlDays !== undefined) parseDays(opts.crlDays, '--crl-days');
      const passphrase = readPassphrase(opts.caPassphraseFile, 'CA passphrase file');
      const result = await initCa({
        dir: opts.dir,
        hosts: opts.host,
        keyType,
        caName: opts.caName,
        passphrase,
        crlDays: opts.crlDays === undefined ? undefined : parseDays(opts.crlDays, '--crl-days'),
      });
      const hosts = parseHosts(opts.host).map((h) => h.value);
      const inv = readInventory(result.dir);
      print(
        [
          `Created CA "${result.caName}" (${keyType}) in ${result.dir}`,
          `  ca.crt          CA certificate: clients use it as sslrootcert`,
          `  ca.key          CA private key (0600${passphrase ? ', encrypted' : ''}): keep it safe, it signs every identity`,
          `  server.crt/.key the gateway's certificate for ${hosts.join(', ')} (until ${day(inv.certificates[0]?.notAfter ?? '')}; re-issue with pgmoat issue-server)`,
          `  crl.pem         revocation list, valid ${inv.crlDays} days: re-sign it from cron with: pgmoat crl --dir ${opts.dir}`,
          `  inventory.json  every certificate issued`,
          `  pgmoat.yaml     starter gateway configuration`,
          `Next: pgmoat issue NAME --env production --dir ${opts.dir} --out OUTDIR`,
        ].join('\n'),
      );
    });
}
