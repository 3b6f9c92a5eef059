import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renewedValidity } from './validity.js';
import { RenewalRateLimiter } from './renewal-rate.js';
import { backdateFor } from './lifetime.js';

const MIN = 60_000;
const now = new Date('2026-12-03T12:00:00Z');

test('a renewed certificate keeps the lifetime it was issued with, backdated as issue does', () => {
  for (const lifetime of [5 * MIN, 2 * MIN, 50 * MIN, 24 * 60 * MIN]) {
    const issued = new Date('2026-12-01T12:00:00Z');
    const old = { notBefore: new Date(issued.getTime() - backdateFor(lifetime)), notAfter: new Date(issued.getTime() + lifetime) };
    const v = renewedValidity(old, now);
    assert.equal(v.notBefore.getTime(), now.getTime() - backdateFor(lifetime), `notBefore of a ${lifetime / MIN}-minute certificate`);
    // A fixed 5-minute backdate left a renewed 5-minute certificate 30 seconds to live.
    assert.equal(v.notAfter.getTime(), now.getTime() + lifetime, `notAfter of a ${lifetime / MIN}-minute certificate`);
  }
});

test('a short certificate made without backdating keeps its span, which never grows', () => {
  let v = { notBefore: new Date('2026-12-01T12:00:00Z'), notAfter: new Date('2026-12-01T12:00:30Z') };
  for (let i = 0; i < 5; i++) {
    v = renewedValidity(v, now);
    assert.equal(v.notAfter.getTime() - v.notBefore.getTime(), 30_000);
  }
  assert.ok(v.notAfter.getTime() > now.getTime() + 25_000);
  assert.ok(v.notBefore < now);
});

test('the rate limiter allows max per window per key and says when to retry', () => {
  const r = new RenewalRateLimiter({ max: 2, windowMs: 60_000 });
  assert.equal(r.take('a', 0), 0);
  assert.equal(r.take('a', 1_000), 0);
  assert.equal(r.take('a', 2_000), 58);
  assert.equal(r.take('b', 2_000), 0);
  assert.equal(r.take('a', 60_001), 0);
});
