import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expiringWindowMs, isExpiring } from './expiring.js';

const DAY = 86_400_000;
const at = (ms: number): Date => new Date(ms);

test('expiring window: 14 days for long certificates, a third of the lifetime for short ones', () => {
  assert.equal(expiringWindowMs(at(0), at(90 * DAY)), 14 * DAY);
  assert.equal(expiringWindowMs(at(0), at(3 * DAY)), DAY);
  const now = 100 * DAY;
  assert.equal(isExpiring(at(now - 76 * DAY), at(now + 13 * DAY), now), true, '90 days, 13 left');
  assert.equal(isExpiring(at(now - 75 * DAY), at(now + 15 * DAY), now), false, '90 days, 15 left');
  assert.equal(isExpiring(at(now - 60_000), at(now + 5 * DAY), now), false, 'a fresh 5-day certificate');
  assert.equal(isExpiring(at(now - 17 * 3_600_000), at(now + 7 * 3_600_000), now), true, '24 hours, 7 left');
  assert.equal(isExpiring(at(now - DAY), at(now), now), false, 'expired is not expiring');
});
