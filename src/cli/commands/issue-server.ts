import type { Command } from 'commander';
import { issueServer, openCa, parseDays, parseKeyType, KEY_TYPES, DEFAULT_SERVER_DAYS } from '../../ca/index.js';
import { collect, day, print, readPassphrase } from '../cli-helpers.js';

interface IssueServerOptions {
  dir: string;
  host?: string[];
  days?: string;
  keyType?: string;
  caPassphraseFile?: string;
}

export function register(program: Command): void {
  program
    .command('issue-server')
    .description("re-issue the gateway's server.crt and server.key (new key, same CA); a running gateway picks them up on reload")
    .requiredOption('--dir <dir>', 'the CA directory')
    .option('--host <name-or-ip>', 'a DNS name or IP of the gateway (repeatable; default: those of the current server.crt)', collect)
    .option('--days <n>', `lifetime in days (default ${DEFAULT_SERVER_DAYS})`)
    .option('--key-type <type>', `type of the new key: ${KEY_TYPES.join(', ')} (default: as before)`)
    .option('--ca-passphrase-file <file>', 'passphrase of an encrypted CA key')
    .action(async (opts: IssueServerOptions) => {
      const days = opts.days === undefined ? undefined : parseDays(opts.days);
      const keyType = opts.keyType === undefined ? undefined : parseKeyType(opts.keyType);
      const ca = await openCa(opts.dir, readPassphrase(opts.caPassphraseFile, 'CA passphrase file'));
      const result = await issueServer(ca, { hosts: opts.host, days, keyType });
      print(
        [
          `Issued server certificate for ${result.hosts.map((h) => h.value).join(', ')}: serial ${result.entry.serial}, valid until ${day(result.entry.notAfter)}`,
          `  key         ${result.keyPath} (0600)`,
          `  certificate ${result.certPath}`,
        ].join('\n'),
      );
    });
}
