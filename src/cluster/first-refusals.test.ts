import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FirstRefusals } from './first-refusals.js';

test('the first offer of a serial wins, later ones of any worker do not; the set stays bounded', () => {
  const f = new FirstRefusals(3);
  assert.equal(f.claim('0a'), true);
  assert.equal(f.claim('0a'), false);
  assert.equal(f.claim('0b'), true);
  assert.equal(f.claim('0c'), true);
  assert.equal(f.claim('0d'), true);
  assert.equal(f.size, 3);
  // 0a, the oldest, made room for 0d; the others are still known.
  assert.equal(f.claim('0b'), false);
  assert.equal(f.claim('0d'), false);
  assert.equal(f.claim('0a'), true);
  assert.equal(f.size, 3);
});
