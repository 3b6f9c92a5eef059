import type { Command } from 'commander';
import { dirname, join } from 'node:path';
import { EXPORT_FORMATS, formatLibpq, formatMaterial, loadClientFiles, pkcs8Der } from '../../ca/index.js';
import { writeFileAtomic } from '../../util/atomic-file.js';
import { PgmoatError } from '../../util/errors.js';
import { choice, note, print, readPassphrase } from '../cli-helpers.js';

interface ExportOptions {
  cert: string;
  key: string;
  ca?: string;
  format: string;
  out?: string;
  keyPassphraseFile?: string;
}

export function register(program: Command): void {
  program
    .command('export')
    .description('format existing client files for a deployment: environment variables, libpq parameters, or DER PKCS#8 for pgJDBC')
    .requiredOption('--cert <file>', 'the client certificate (PEM)')
    .requiredOption('--key <file>', 'its private key (PEM, mode 0600)')
    .option('--ca <file>', 'the CA certificate (default: ca.crt beside --cert)')
    .requiredOption('--format <format>', `one of ${EXPORT_FORMATS.join(', ')}`)
    .option('--out <file>', 'with --format pk8: where to write the DER key (mode 0600)')
    .option('--key-passphrase-file <file>', 'passphrase of an encrypted key (needed for pk8)')
    .action((opts: ExportOptions) => {
      const format = choice(opts.format, EXPORT_FORMATS, '--format');
      if (format === 'pk8' && opts.out === undefined) {
        throw new PgmoatError('USAGE', '--format pk8 writes binary DER: pass --out FILE');
      }
      const ca = opts.ca ?? join(dirname(opts.cert), 'ca.crt');
      const keyPassphrase = readPassphrase(opts.keyPassphraseFile, 'key passphrase file');
      const files = loadClientFiles({ cert: opts.cert, key: opts.key, ca, keyPassphrase });
      switch (format) {
        case 'env':
        case 'dotenv':
        case 'json':
          print(formatMaterial(format, files));
          return;
        case 'libpq':
          print(formatLibpq({ cert: opts.cert, key: opts.key, ca }));
          return;
        case 'pk8': {
          if (!files.key) {
            throw new PgmoatError('KEY_PASSPHRASE_REQUIRED', `client key ${opts.key} is encrypted: pass --key-passphrase-file FILE to write it as DER`);
          }
          writeFileAtomic(opts.out!, pkcs8Der(files.key), 0o600);
          note(`Wrote ${opts.out} (DER PKCS#8, unencrypted, mode 0600): pgJDBC sslkey=${opts.out}`);
          return;
        }
      }
    });
}
