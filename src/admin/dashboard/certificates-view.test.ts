import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pageOfCertificates, parseCertificateQuery } from './certificates-view.js';
import type { CertificateRow } from './types.js';

const DAY = 86_400_000;
const rows: CertificateRow[] = Array.from({ length: 300 }, (_, i) => ({
  serial: (0x1000 + i).toString(16),
  name: `svc-${String(i % 37).padStart(2, '0')}`,
  environment: i % 3 === 0 ? 'staging' : 'production',
  kind: 'client',
  sans: [],
  issued: new Date(Date.UTC(2026, 0, 1) + i * DAY).toISOString(),
  notBefore: new Date(Date.UTC(2026, 0, 1) + i * DAY).toISOString(),
  notAfter: new Date(Date.UTC(2026, 0, 1) + ((i * 7919) % 300) * DAY + 90 * DAY).toISOString(),
  status: i % 10 === 0 ? 'revoked' : i % 10 === 1 ? 'expiring' : 'valid',
  liveSessions: 0,
  lastSeen: i % 4 === 0 ? 1_000_000 + i : undefined,
  renewalWindow: false,
  nearExpiry: false,
}));

const q = (s: string) => parseCertificateQuery(new URLSearchParams(s));

test('pages cover every filtered row exactly once, in order', () => {
  const seen: CertificateRow[] = [];
  for (let offset = 0; offset < 400; offset += 70) {
    const page = pageOfCertificates(rows, q(`offset=${offset}&limit=70&sort=expires&dir=desc&status=valid`));
    assert.equal(page.total, 270);
    seen.push(...page.rows);
  }
  assert.equal(seen.length, 270);
  assert.equal(new Set(seen.map((r) => r.serial)).size, 270);
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i - 1]!.notAfter >= seen[i]!.notAfter, 'descending notAfter');
  assert.ok(seen.every((r) => r.status === 'valid' || r.status === 'expiring'));
});

test('filters by text and status, sorts by name and last seen', () => {
  const staging = pageOfCertificates(rows, q('q=STAGING&limit=500&status=revoked'));
  assert.equal(staging.total, rows.filter((r) => r.environment === 'staging' && r.status === 'revoked').length);
  assert.ok(staging.total > 0);
  const byName = pageOfCertificates(rows, q('sort=name&limit=5')).rows.map((r) => r.name);
  assert.deepEqual(byName, [...byName].sort());
  assert.equal(byName[0], 'svc-00');
  const recent = pageOfCertificates(rows, q('sort=last_seen&dir=desc&limit=1')).rows[0]!;
  assert.equal(recent.lastSeen, 1_000_000 + 296);
  assert.equal(pageOfCertificates(rows, q('q=110f')).rows[0]!.serial, '110f');
});

test('unknown values and oversized pages', () => {
  assert.throws(() => q('sort=drop'), { code: 'DASHBOARD_BAD_REQUEST' });
  assert.throws(() => q('limit=-1'), { code: 'DASHBOARD_BAD_REQUEST' });
  assert.equal(q('limit=100000').limit, 500);
});
