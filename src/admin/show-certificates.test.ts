import { test } from 'node:test';
import assert from 'node:assert/strict';
import { certificateStatus, type KnownCertificate } from './certificate-catalog.js';
import { formatSpan, showCerts, showCrl } from './show-certificates.js';
import { EMPTY_REVOCATION_LIST, type RevocationList } from '../revocation/revocation-list.js';
import { NO_CRL_STATUS } from '../revocation/crl-file-source.js';

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 0, 10);

function cert(kind: KnownCertificate['kind'], serial: string, fromDays: number, toDays: number, extra: Partial<KnownCertificate> = {}): KnownCertificate {
  return { kind, cn: `cn-${serial}`, environment: kind === 'client' ? 'production' : '', serial, notBefore: new Date(NOW + fromDays * DAY), notAfter: new Date(NOW + toDays * DAY), source: 'inventory', lastSeen: undefined, revoked: false, ...extra };
}

test('status: expiring under 14 days or under a third of the lifetime, whichever is less', () => {
  assert.equal(certificateStatus(cert('client', '01', -80, 10), NOW), 'expiring');
  assert.equal(certificateStatus(cert('client', '02', -80, 20), NOW), 'valid');
  // A 24-hour certificate: expiring in its last 8 hours, not for 14 days.
  assert.equal(certificateStatus({ notBefore: new Date(NOW - 12 * 3600_000), notAfter: new Date(NOW + 12 * 3600_000), revoked: false }, NOW), 'valid');
  assert.equal(certificateStatus({ notBefore: new Date(NOW - 17 * 3600_000), notAfter: new Date(NOW + 7 * 3600_000), revoked: false }, NOW), 'expiring');
  assert.equal(certificateStatus(cert('client', '03', -80, -1), NOW), 'expired');
  assert.equal(certificateStatus(cert('client', '04', -80, -1, { revoked: true }), NOW), 'revoked');
});

test('formatSpan', () => {
  assert.equal(formatSpan(3 * DAY + 4 * 3600_000 + 59_000), '3d 4h');
  assert.equal(formatSpan(2 * 3600_000 + 5 * 60_000), '2h 5m');
  assert.equal(formatSpan(61_000), '1m 1s');
  assert.equal(formatSpan(999), '0s');
  assert.equal(formatSpan(-(DAY + 3600_000)), '-1d 1h');
});

test('SHOW CERTS sorts CA certificates first, then by environment, name and age', () => {
  const r = showCerts([cert('client', 'c2', -1, 50, { cn: 'b' }), cert('server', 's1', -10, 300), cert('client', 'c1', -1, 50, { cn: 'a', lastSeen: NOW }), cert('root', 'r1', -100, 3000)], NOW);
  assert.deepEqual(r.rows!.map((row) => row[3]), ['r1', 's1', 'c1', 'c2']);
  assert.equal(r.rows![2]![8], '2026-01-10 00:00:00 UTC');
  assert.equal(r.rows![3]![8], null);
  assert.equal(r.rows![2]![7], '50d 0h');
});

test('SHOW CRL: one row per CRL in force, none without', () => {
  assert.deepEqual(showCrl(EMPTY_REVOCATION_LIST, NO_CRL_STATUS, NOW).rows, []);
  const list: RevocationList = {
    ...EMPTY_REVOCATION_LIST,
    revoked: new Map([['0a', { serial: '0a', revokedAt: undefined, reason: undefined }]]),
    thisUpdate: new Date(NOW - 3600_000),
    nextUpdate: new Date(NOW + 7 * DAY),
    crlCount: 1,
    crls: [{ issuer: 'CN=ca', authorityKeyId: undefined, crlNumber: 7n, thisUpdate: new Date(NOW - 3600_000), digest: 'x' }],
  };
  const r = showCrl(list, { ...NO_CRL_STATUS, path: '/ca/crl.pem', stale: false, loadedAt: NOW }, NOW);
  assert.deepEqual(r.rows, [['CN=ca', '7', '2026-01-09 23:00:00 UTC', '2026-01-17 00:00:00 UTC', '1h 0m', 1, 'no', '2026-01-10 00:00:00 UTC', '/ca/crl.pem']]);
});
