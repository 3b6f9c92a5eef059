/**
 * SHOW CERTS and SHOW CRL: the certificates the gateway knows (certificate-catalog.ts) with their
 * status, and the CRL in force. Read at the moment of the command.
 */
import type { RevocationList } from '../revocation/revocation-list.js';
import type { CrlStatus } from '../revocation/crl-file-source.js';
import { certificateStatus, type KnownCertificate } from './certificate-catalog.js';
import { formatTime, type CommandResult } from './result-set.js';

const KIND_ORDER = ['root', 'intermediate', 'server', 'client'];

/** `12d 3h`, `5h 20m`, `42s`; negative once past (`-1d 2h`). */
export function formatSpan(ms: number): string {
  const sign = ms < 0 ? '-' : '';
  let s = Math.floor(Math.abs(ms) / 1000);
  const d = Math.floor(s / 86_400);
  s -= d * 86_400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const text = d > 0 ? `${d}d ${h}h` : h > 0 ? `${h}h ${m}m` : m > 0 ? `${m}m ${s}s` : `${s}s`;
  return sign + text;
}

export function showCerts(certs: readonly KnownCertificate[], now = Date.now()): CommandResult {
  const columns = ['kind', 'cn', 'environment', 'serial', 'status', 'not_before', 'not_after', 'expires_in', 'last_seen', 'source'];
  const rows = [...certs]
    .sort(
      (a, b) =>
        KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind) ||
        a.environment.localeCompare(b.environment) ||
        a.cn.localeCompare(b.cn) ||
        a.notBefore.getTime() - b.notBefore.getTime() ||
        a.serial.localeCompare(b.serial),
    )
    .map((c) => [
      c.kind,
      c.cn,
      c.environment,
      c.serial,
      certificateStatus(c, now),
      formatTime(c.notBefore.getTime()),
      formatTime(c.notAfter.getTime()),
      formatSpan(c.notAfter.getTime() - now),
      c.lastSeen === undefined ? null : formatTime(c.lastSeen),
      c.source,
    ]);
  return { columns, rows, tag: 'SHOW' };
}

/** One row per CRL in force (one per issuing CA); none without tls.crl. */
export function showCrl(list: RevocationList, status: CrlStatus, now = Date.now()): CommandResult {
  const columns = ['issuer', 'crl_number', 'this_update', 'next_update', 'age', 'revoked', 'stale', 'loaded_at', 'path'];
  const rows = list.crls.map((m) => [
    m.issuer,
    m.crlNumber === undefined ? null : m.crlNumber.toString(),
    formatTime(m.thisUpdate.getTime()),
    list.nextUpdate ? formatTime(list.nextUpdate.getTime()) : null,
    formatSpan(Math.max(0, now - m.thisUpdate.getTime())),
    // The list in force merges every CRL read: its count covers them all.
    list.revoked.size,
    status.stale ? 'yes' : 'no',
    status.loadedAt === undefined ? null : formatTime(status.loadedAt),
    status.path ?? null,
  ]);
  return { columns, rows, tag: 'SHOW' };
}
