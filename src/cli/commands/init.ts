import type { Command } from 'commander';
import { join } from 'node:path';
import {
  initCa,
  parseDays,
  parseHosts,
  parseKeyType,
  parseLifetime,
  loadInventory,
  CA_FILES,
  DEFAULT_CA_NAME,
  DEFAULT_CLIENT_DAYS,
  DEFAULT_CRL_DAYS,
  DEFAULT_SERVER_DAYS,
  KEY_TYPES,
} from '../../ca/index.js';
import { collect, day, print, readPassphrase } from '../cli-helpers.js';
import { resolve } from 'node:path';
import { PgmoatError } from '../../util/errors.js';
import { checkStoreIsFree, migrateToStore } from '../../ca/migrate.js';
import { checkStoreUrl, redactUrl, type StorePointer } from '../../ca/store-pointer.js';

interface InitOptions {
  dir: string;
  host?: string[];
  keyType: string;
  caName: string;
  caPassphraseFile?: string;
  crlDays?: string;
  intermediate?: boolean;
  clientLifetime?: string;
  serverLifetime?: string;
  store?: string;
  storePasswordFile?: string;
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
    .option('--intermediate', 'make a root CA (ca.crt, ca.key) and an issuing intermediate (intermediate.crt, intermediate.key) that signs everything else, so the root key can be moved offline')
    .option('--client-lifetime <duration>', `default lifetime of client certificates: 90m, 24h, 30d (default ${DEFAULT_CLIENT_DAYS}d)`)
    .option('--server-lifetime <duration>', `default lifetime of server certificates (default ${DEFAULT_SERVER_DAYS}d)`)
    .option('--store <url>', 'keep the inventory and revocations in this PostgreSQL store (postgres://…) instead of inventory.json, as pgmoat ca migrate does')
    .option('--store-password-file <file>', "with --store: the store password in a file (mode 0600)")
    .action(async (opts: InitOptions) => {
      let store: StorePointer | undefined;
      if (opts.store !== undefined) {
        store = { version: 1, url: checkStoreUrl(opts.store, '--store'), ...(opts.storePasswordFile === undefined ? {} : { password_file: resolve(opts.storePasswordFile) }) };
        // Before the CA exists: an unreachable store or one that holds a CA leaves no directory behind.
        await checkStoreIsFree(store);
      }
      const keyType = parseKeyType(opts.keyType);
      if (opts.crlDays !== undefined) parseDays(opts.crlDays, '--crl-days');
      if (opts.clientLifetime !== undefined) parseLifetime(opts.clientLifetime, '--client-lifetime');
      if (opts.serverLifetime !== undefined) parseLifetime(opts.serverLifetime, '--server-lifetime');
      const passphrase = readPassphrase(opts.caPassphraseFile, 'CA passphrase file');
      const result = await initCa({
        dir: opts.dir,
        hosts: opts.host,
        keyType,
        caName: opts.caName,
        passphrase,
        crlDays: opts.crlDays === undefined ? undefined : parseDays(opts.crlDays, '--crl-days'),
        intermediate: opts.intermediate ?? false,
        clientLifetime: opts.clientLifetime,
        serverLifetime: opts.serverLifetime,
      });
      if (store) {
        try {
          await migrateToStore(result.dir, store);
        } catch (err) {
          if (err instanceof PgmoatError) throw err.withDetail(`the CA was created in ${result.dir} with its inventory in inventory.json; run pgmoat ca migrate --to URL --dir ${opts.dir} once the store works`);
          throw err;
        }
      }
      const hosts = parseHosts(opts.host).map((h) => h.value);
      const inv = await loadInventory(result.dir);
      const enc = passphrase ? ', encrypted' : '';
      const lifetimes = `  ${'defaults.json'.padEnd(result.intermediate ? 17 : 16)}default lifetimes: client ${result.defaults.client.text}, server ${result.defaults.server.text}`;
      if (!result.intermediate) {
        print(
          [
            `Created CA "${result.caName}" (${keyType}) in ${result.dir}`,
            `  ca.crt          CA certificate: clients use it as sslrootcert`,
            `  ca.key          CA private key (0600${enc}): keep it safe, it signs every identity`,
            `  server.crt/.key the gateway's certificate for ${hosts.join(', ')} (until ${day(inv.certificates[0]?.notAfter ?? '')}; re-issue with pgmoat issue-server)`,
            `  crl.pem         revocation list, valid ${inv.crlDays} days: re-sign it from cron with: pgmoat crl --dir ${opts.dir}`,
            store ? `  store.json      every certificate issued is kept in the pgmoat store at ${redactUrl(store.url)}` : `  inventory.json  every certificate issued`,
            lifetimes,
            `  pgmoat.yaml     starter gateway configuration`,
            `Next: pgmoat issue NAME --env production --dir ${opts.dir} --out OUTDIR`,
          ].join('\n'),
        );
        return;
      }
      const rootKey = join(result.dir, CA_FILES.caKey);
      print(
        [
          `Created root CA "${result.caName}" and its issuing intermediate (${keyType}) in ${result.dir}`,
          `  ca.crt           root CA certificate: clients use it as sslrootcert`,
          `  ca.key           root CA private key (0600${enc}): signs only the intermediate; move it offline (below)`,
          `  intermediate.crt issuing CA certificate, signed by the root (until ${day(result.issuerNotAfter)})`,
          `  intermediate.key issuing CA private key (0600${enc}): signs client and server certificates and the CRL`,
          `  ca-bundle.crt    root + intermediate: the gateway's tls.ca (it checks the CRL against the intermediate)`,
          `  server.crt/.key  the gateway's certificate (followed by the intermediate) for ${hosts.join(', ')} (until ${day(inv.certificates[0]?.notAfter ?? '')})`,
          `  crl.pem          revocation list signed by the intermediate, valid ${inv.crlDays} days: re-sign it from cron with: pgmoat crl --dir ${opts.dir}`,
          store ? `  store.json       every certificate issued is kept in the pgmoat store at ${redactUrl(store.url)}` : `  inventory.json   every certificate issued`,
          lifetimes,
          `  pgmoat.yaml      starter gateway configuration`,
          `The root key is not needed to issue: move it offline now, e.g.`,
          `  cp ${rootKey} /media/offline/ && shred -u ${rootKey}`,
          `pgmoat issue, renew, issue-server, revoke and crl keep working without it. Only a new`,
          `intermediate (before ${day(result.issuerNotAfter)}) needs it back in ${result.dir}.`,
          `Next: pgmoat issue NAME --env production --dir ${opts.dir} --out OUTDIR`,
        ].join('\n'),
      );
    });
}
