/** `pgmoat ca adopt`: an existing CA becomes a pgmoat CA directory (inventory, CRL, defaults). */
import type { Command } from 'commander';
import { adoptCa, parseDays } from '../../ca/index.js';
import { readPrivateFile } from '../../util/private-file.js';
import { collect, print, readInputFile, readPassphrase } from '../cli-helpers.js';

interface AdoptOptions {
  dir: string;
  cert: string;
  key: string;
  root?: string;
  issued?: string[];
  crl?: string;
  passphraseFile?: string;
  crlDays?: string;
}

function input(path: string, what: string): { path: string; text: string } {
  return { path, text: readInputFile(path, what).toString('utf8') };
}

export function registerAdopt(ca: Command): void {
  ca.command('adopt')
    .description('make a pgmoat CA directory from an existing CA (e.g. the one a PgBouncer setup trusts): issue, renew, revoke and publish its CRL with pgmoat')
    .requiredOption('--dir <dir>', 'the CA directory to create (mode 0700); must not hold a CA already')
    .requiredOption('--cert <file>', "the CA's certificate (PEM)")
    .requiredOption('--key <file>', "the CA's private key (PEM: PKCS#8, PKCS#1 or SEC1; must not be readable by group or others)")
    .option('--root <file>', 'the root that signed --cert, when --cert is an intermediate (the root key stays where it is)')
    .option('--issued <file>', 'certificates this CA issued, to put in the inventory (repeatable; a file may hold several)', collect)
    .option('--crl <file>', "the CA's current CRL: its revocations are kept and its CRL number continued")
    .option('--passphrase-file <file>', 'passphrase of an encrypted --key (the copy in --dir stays encrypted with it)')
    .option('--crl-days <n>', 'lifetime of each CRL in days (default 7)')
    .addHelpText(
      'after',
      '\nThe CA key is copied into --dir as PKCS#8 (0600); the original file is left as it is.\n' +
        'Without --crl, revocations the CA made before are not known to pgmoat: give the current CRL.\n' +
        'Then point the gateway at the directory: tls.ca (ca.crt, or ca-bundle.crt for an intermediate) and tls.crl (crl.pem).',
    )
    .action(async (opts: AdoptOptions) => {
      const passphrase = readPassphrase(opts.passphraseFile, 'CA key passphrase file');
      const result = await adoptCa({
        dir: opts.dir,
        cert: input(opts.cert, 'CA certificate'),
        key: { path: opts.key, data: readPrivateFile(opts.key, 'CA key') },
        passphrase,
        root: opts.root === undefined ? undefined : input(opts.root, 'root certificate'),
        issued: (opts.issued ?? []).map((f) => input(f, 'issued certificates')),
        crl: opts.crl === undefined ? undefined : input(opts.crl, 'CRL'),
        crlDays: opts.crlDays === undefined ? undefined : parseDays(opts.crlDays, '--crl-days'),
      });
      const revoked = result.adopted.filter((e) => e.status === 'revoked').length;
      const caFile = result.twoLevel ? 'ca-bundle.crt' : 'ca.crt';
      print(
        [
          `Adopted CA "${result.caName}" into ${result.dir}${result.twoLevel ? ' (an intermediate: its root key stays where it is)' : ''}`,
          `  inventory.json  ${result.adopted.length} certificate(s) from --issued${revoked > 0 ? `, ${revoked} of them revoked` : ''}`,
          ...(result.revokedWithoutCertificate > 0 ? [`                  and ${result.revokedWithoutCertificate} revocation(s) of the old CRL without their certificate (kept on every CRL)`] : []),
          `  crl.pem         signed by the adopted CA, CRL number ${result.crlNumber}: re-sign it from cron with: pgmoat crl --dir ${opts.dir}`,
          ...(opts.crl === undefined ? ['  (no --crl: revocations this CA made before are not on it)'] : []),
          `In pgmoat.yaml:`,
          `  tls:`,
          `    ca: ${result.dir}/${caFile}`,
          `    crl: ${result.dir}/crl.pem`,
          `Next: pgmoat list --dir ${opts.dir}; pgmoat issue NAME --env ENV --dir ${opts.dir} --out OUTDIR`,
        ].join('\n'),
      );
    });
}
