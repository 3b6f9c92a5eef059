/** What issue and renew print: a summary, and on request the deployment material. */
import { formatMaterial, sansOfCertificate, MATERIAL_FORMATS, type IssuedClient, type MaterialFormat } from '../ca/index.js';
import { PgmoatError } from '../util/errors.js';
import { choice, note, print, when } from './cli-helpers.js';

export function parsePrintFormat(value: string | undefined, csr: string | undefined): MaterialFormat | undefined {
  if (value === undefined) return undefined;
  const format = choice(value, MATERIAL_FORMATS, '--print');
  if (csr !== undefined) {
    throw new PgmoatError('USAGE', '--print needs the private key, which stays with whoever made the CSR; use pgmoat export --cert --key there');
  }
  return format;
}

export function reportIssued(verb: string, issued: IssuedClient, format: MaterialFormat | undefined): void {
  const { entry, files } = issued;
  const extra = sansOfCertificate(entry.certificate).filter((s) => !s.startsWith('URI:pgmoat://'));
  const chained = issued.certPem !== entry.certificate;
  const lines = [
    `${verb} ${entry.name} for environment ${entry.environment}: serial ${entry.serial}, valid until ${when(entry.notAfter)}`,
    ...(extra.length > 0 ? [`  SANs        ${extra.join(', ')}`] : []),
    ...(files
      ? [
          `  certificate ${files.cert}${chained ? ' (followed by the intermediate CA: clients send both)' : ''}`,
          ...(files.key ? [`  key         ${files.key} (0600)`] : []),
          `  CA          ${files.ca}`,
        ]
      : []),
  ];
  // With --print, stdout carries only the material (so it can be piped); the summary goes to stderr.
  if (format !== undefined && issued.keyPem !== undefined) {
    note(lines.join('\n'));
    print(formatMaterial(format, { certPem: issued.certPem, keyPem: issued.keyPem, caPem: issued.caPem }));
  } else {
    print(lines.join('\n'));
  }
}
