/** `pgmoat ca migrate --to URL`: the CA directory's inventory moves into a PostgreSQL store. */
import type { Command } from 'commander';
import { resolve } from 'node:path';
import { migrateToStore } from '../../ca/migrate.js';
import { checkStoreUrl } from '../../ca/store-pointer.js';
import { print } from '../cli-helpers.js';

interface MigrateOptions {
  dir: string;
  to: string;
  passwordFile?: string;
}

export function registerMigrate(ca: Command): void {
  ca.command('migrate')
    .description("move the CA directory's inventory and revocations into a PostgreSQL store (schema pgmoat); every CA command then uses it")
    .requiredOption('--dir <dir>', 'the CA directory')
    .requiredOption('--to <url>', 'the store: postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?sslmode=...] (libpq forms; the password may also come from PGPASSWORD or ~/.pgpass)')
    .option('--password-file <file>', "the store password in a file (mode 0600), recorded in store.json instead of the password itself")
    .addHelpText(
      'after',
      '\nOne transaction copies every certificate and adopted revocation; then store.json records the store\n' +
        'and inventory.json is renamed inventory.json.migrated (a backup, never read again). Keys, certificates\n' +
        'and crl.pem stay in the directory; crl.pem is still re-signed at every change. Safe to run again:\n' +
        'after a crash it finishes what is left; a store that holds another CA, or different rows, is refused.',
    )
    .action(async (opts: MigrateOptions) => {
      const url = checkStoreUrl(opts.to, '--to');
      const result = await migrateToStore(opts.dir, { version: 1, url, ...(opts.passwordFile === undefined ? {} : { password_file: resolve(opts.passwordFile) }) });
      const what = `${result.certificates} certificate(s), ${result.adoptedRevocations} adopted revocation(s)`;
      print(
        [
          `${result.resumed ? 'Finished migrating' : 'Migrated'} the inventory of ${result.dir} to the pgmoat store at ${result.where}`,
          `  ${what} ${result.copied ? 'copied in one transaction' : 'already in the store (an earlier run copied them)'}`,
          `  store.json               where the CA keeps its inventory now`,
          `  inventory.json.migrated  the old inventory, kept as a backup (never read again)`,
          `Keys, certificates and crl.pem stay in ${result.dir}; crl.pem is re-signed at every change as before.`,
          `Every CA command (issue, renew, revoke, list, crl, ca serve) now reads and writes the store; a revoke also sends NOTIFY pgmoat_revocations.`,
        ].join('\n'),
      );
    });
}
