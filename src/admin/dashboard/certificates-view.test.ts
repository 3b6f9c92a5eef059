import { test } from 'node:test';
import assert from 'node:assert/strict';
import { firstInOrder, pageOfCertificates, parseCertificateQuery, SORT_KEYS } from './certificates-view.js';
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

test('a page near the top (a buffer of the first rows) is the same page as a full sort would give', () => {
  // 4,000 rows so that the first pages take the buffered path (k * 8 < rows) and deep ones the sort.
  let seed = 7;
  const rand = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
  const many: CertificateRow[] = Array.from({ length: 4000 }, (_, i) => ({
    ...rows[i % rows.length]!,
    serial: (0x100000 + i).toString(16),
    name: `svc-${String(rand(500)).padStart(3, '0')}`,
    notAfter: new Date(Date.UTC(2026, 0, 1) + rand(1000) * DAY).toISOString(),
    liveSessions: rand(4),
    lastSeen: rand(3) === 0 ? undefined : rand(100_000),
  }));
  for (const sort of SORT_KEYS) {
    for (const dir of ['asc', 'desc']) {
      const all = pageOfCertificates(many, q(`sort=${sort}&dir=${dir}&limit=500`));
      const whole: CertificateRow[] = [];
      for (let offset = 0; offset < 4000; offset += 500) whole.push(...pageOfCertificates(many, q(`sort=${sort}&dir=${dir}&offset=${offset}&limit=500`)).rows);
      assert.equal(new Set(whole.map((r) => r.serial)).size, 4000, `${sort} ${dir}: the pages cover every row once`);
      for (const offset of [0, 50, 100, 350]) {
        const page = pageOfCertificates(many, q(`sort=${sort}&dir=${dir}&offset=${offset}&limit=50`)).rows.map((r) => r.serial);
        assert.deepEqual(page, whole.slice(offset, offset + 50).map((r) => r.serial), `${sort} ${dir} offset ${offset}`);
      }
      assert.deepEqual(all.rows.map((r) => r.serial), whole.slice(0, 500).map((r) => r.serial));
    }
  }
});

test('firstInOrder keeps the first k of any order, already sorted or reversed', () => {
  const byNumber = (a: number, b: number): number => a - b;
  const shuffled = Array.from({ length: 1000 }, (_, i) => (i * 7919) % 1000);
  assert.deepEqual(firstInOrder([...shuffled], 10, byNumber), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual(firstInOrder(Array.from({ length: 1000 }, (_, i) => 999 - i), 3, byNumber), [0, 1, 2]);
  assert.deepEqual(firstInOrder(Array.from({ length: 1000 }, (_, i) => i), 3, byNumber), [0, 1, 2]);
  assert.deepEqual(firstInOrder([3, 1, 2], 10, byNumber), [1, 2, 3]);
});
