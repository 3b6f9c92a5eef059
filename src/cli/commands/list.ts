import type { Command } from 'commander';
import { listCertificates, EXPIRING_RULE_TEXT, type ListedCertificate } from '../../ca/index.js';
import { print } from '../cli-helpers.js';

function when(iso: string): string {
  return `${iso.slice(0, 10)} ${iso.slice(11, 16)}`;
}

/** The SANs worth a column: not the pgmoat:// URI (NAME and ENVIRONMENT say it) nor a server's hosts. */
function extraSans(r: ListedCertificate): string[] {
  return r.kind === 'client' ? r.sans.filter((s) => !s.startsWith('URI:pgmoat://')) : [];
}

/** Why a certificate is not simply valid: when and why it was revoked, or what replaced it. */
function note(r: ListedCertificate): string {
  if (r.status === 'revoked') return `revoked ${r.revokedAt ? `${when(r.revokedAt)} UTC` : '(time unknown)'}, reason ${r.reason ?? 'unspecified'}`;
  if (r.status === 'superseded') return `replaced by ${r.supersededBy}`;
  return '-';
}

function table(rows: ListedCertificate[]): string {
  const header = ['', 'NAME', 'ENVIRONMENT', 'KIND', 'SERIAL', 'STATUS', 'NOT BEFORE (UTC)', 'NOT AFTER (UTC)', 'DAYS LEFT', 'SHA-256 FINGERPRINT', 'SANS', 'NOTE'];
  const body = rows.map((r) => [
    r.expiringSoon ? '!' : '',
    r.name,
    r.environment || '-',
    r.kind,
    r.serial,
    r.expiringSoon ? 'EXPIRING' : r.status,
    when(r.notBefore),
    when(r.notAfter),
    r.status === 'valid' || r.status === 'superseded' ? String(r.daysLeft) : '-',
    r.fingerprint256,
    extraSans(r).join(',') || '-',
    note(r),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(header), ...body.map(line)].join('\n');
}

export function register(program: Command): void {
  program
    .command('list')
    .description(
      `list every certificate the CA issued, with the revocation time and reason of revoked ones and the serial that replaced superseded ones; valid ones with ${EXPIRING_RULE_TEXT} are marked "!"`,
    )
    .requiredOption('--dir <dir>', 'the CA directory')
    .option('--json', 'print JSON for scripts (a stable format: { version: 1, certificates: [...] })')
    .action(async (opts: { dir: string; json?: boolean }) => {
      const rows = await listCertificates(opts.dir);
      if (opts.json) {
        const certificates = rows.map((r) => ({ ...r, revokedAt: r.revokedAt ?? null, reason: r.reason ?? null, supersededBy: r.supersededBy ?? null }));
        print(JSON.stringify({ version: 1, certificates }, null, 2));
        return;
      }
      if (rows.length === 0) {
        print('No certificates.');
        return;
      }
      print(table(rows));
      const soon = rows.filter((r) => r.expiringSoon);
      if (soon.length > 0) {
        print(`\n! ${soon.length} certificate(s) due for renewal (${EXPIRING_RULE_TEXT}): pgmoat renew NAME --env ENV --dir ${opts.dir} --out OUTDIR`);
      }
    });
}
