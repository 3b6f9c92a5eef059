import type { Command } from 'commander';
import { dirname, join, resolve } from 'node:path';
import { EXPORT_FORMATS, formatLibpq, formatMaterial, loadClientFiles, pkcs8Der } from '../../ca/index.js';
import { writeFileAtomic } from '../../util/atomic-file.js';
import { PgmoatError } from '../../util/errors.js';
import { choice, note, print, readPassphrase } from '../cli-helpers.js';
import { connectionTarget, type ConnectionFlags } from '../export-connection.js';

interface ExportOptions extends ConnectionFlags {
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
    .option('--config <file>', 'with env, dotenv, json: the gateway config (pgmoat.yaml) to take PGHOST, PGPORT, PGUSER and PGDATABASE from')
    .option('--host <host>', 'with env, dotenv, json: PGHOST, the gateway host clients dial (default: listen.host of --config)')
    .option('--port <port>', 'with env, dotenv, json: PGPORT (default: listen.port of --config)')
    .option('--user <role>', "with env, dotenv, json: PGUSER (default: the role --config's rules allow this certificate, if only one)")
    .option('--database <name>', "with env, dotenv, json: PGDATABASE (default: --config's one database for the certificate's environment)")
    .addHelpText(
      'after',
      '\nenv, dotenv and json also write PGSSLMODE=verify-full, PGSSLCERT, PGSSLKEY and PGSSLROOTCERT (the absolute paths, for libpq\n' +
        'on this machine) and whichever of PGHOST, PGPORT, PGUSER, PGDATABASE the flags or --config decide; each one left out is\n' +
        'named on stderr with the reason and the flag that sets it.',
    )
    .action(async (opts: ExportOptions) => {
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
        case 'json': {
          if (opts.port !== undefined && !/^\d{1,5}$/.test(opts.port)) throw new PgmoatError('USAGE', `--port ${opts.port} is not a port number`);
          const target = await connectionTarget(opts, files.certPem);
          // libpq reads files, not the base64 variables: these make psql work where the files are.
          const paths: [string, string][] = [
            ['PGSSLCERT', resolve(opts.cert)],
            ['PGSSLKEY', resolve(opts.key)],
            ['PGSSLROOTCERT', resolve(ca)],
          ];
          print(formatMaterial(format, files, [...target.vars, ...paths]));
          for (const line of target.undecided) note(`pgmoat: ${line}`);
          return;
        }
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
