import type { Command } from 'commander';
import { issueServer, openCa, parseDays, parseKeyType, parseLifetime, KEY_TYPES, DEFAULT_SERVER_DAYS } from '../../ca/index.js';
import { PgmoatError } from '../../util/errors.js';
import { collect, print, readPassphrase, when } from '../cli-helpers.js';

interface IssueServerOptions {
  dir: string;
  host?: string[];
  days?: string;
  lifetime?: string;
  keyType?: string;
  caPassphraseFile?: string;
}

export function register(program: Command): void {
  program
    .command('issue-server')
    .description(
      "re-issue the gateway's server.crt and server.key (new key, same CA); a running gateway picks them up within a second (tls.reload_on_change), else on SIGHUP",
    )
    .requiredOption('--dir <dir>', 'the CA directory')
    .option('--host <name-or-ip>', 'a DNS name or IP of the gateway (repeatable; default: those of the current server.crt)', collect)
    .option('--days <n>', `lifetime in days (default: the CA's server lifetime, ${DEFAULT_SERVER_DAYS} days unless set at init)`)
    .option('--lifetime <duration>', 'lifetime as minutes, hours or days: 90m, 24h, 30d (5m at least; not with --days)')
    .option('--key-type <type>', `type of the new key: ${KEY_TYPES.join(', ')} (default: as before)`)
    .option('--ca-passphrase-file <file>', 'passphrase of an encrypted CA key')
    .action(async (opts: IssueServerOptions) => {
      if (opts.days !== undefined && opts.lifetime !== undefined) {
        throw new PgmoatError('USAGE', '--days and --lifetime both give the lifetime: pass only one');
      }
      const days = opts.days === undefined ? undefined : parseDays(opts.days);
      const lifetime = opts.lifetime === undefined ? undefined : parseLifetime(opts.lifetime).text;
      const keyType = opts.keyType === undefined ? undefined : parseKeyType(opts.keyType);
      const ca = await openCa(opts.dir, readPassphrase(opts.caPassphraseFile, 'CA passphrase file'));
      const result = await issueServer(ca, { hosts: opts.host, days, lifetime, keyType });
      print(
        [
          `Issued server certificate for ${result.hosts.map((h) => h.value).join(', ')}: serial ${result.entry.serial}, valid until ${when(result.entry.notAfter)}`,
          `  key         ${result.keyPath} (0600)`,
          `  certificate ${result.certPath}`,
          ...result.superseded.map((e) => `Replaces ${e.serial} (now "superseded" in pgmoat list; it stays valid until ${when(e.notAfter)})`),
          'A running gateway whose tls.cert and tls.key are these files uses the new pair for new connections within about a second',
          '(tls.reload_on_change, on by default; it logs tls_files_reloaded). With reload_on_change: false, reload it: kill -HUP <pid of pgmoat serve>.',
          'Established sessions keep the old certificate until they end.',
        ].join('\n'),
      );
    });
}
