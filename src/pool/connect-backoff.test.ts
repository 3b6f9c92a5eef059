import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConnectBackoff } from './connect-backoff.js';

test('the delay starts at 100 ms and doubles per round of failures up to the cap; a success clears it', () => {
  const b = new ConnectBackoff();
  const err = new Error('refused');
  let now = 1_000;
  const delays: number[] = [];
  for (let i = 0; i < 7; i++) {
    const d = b.failed(err, now, 2_000, now - 1);
    delays.push(d);
    now += d;
  }
  assert.deepEqual(delays, [100, 200, 400, 800, 1600, 2000, 2000]);
  assert.equal(b.blocked(now - 1), true);
  b.succeeded();
  assert.equal(b.blocked(now - 1), false);
  assert.equal(b.failed(err, now, 2_000, now - 1), 100);
});

test('attempts started together and failing together are one round', () => {
  const b = new ConnectBackoff();
  const err = new Error('refused');
  // Ten waiting clients: ten attempts started at t=0, failing at t=5..14.
  const delays = Array.from({ length: 10 }, (_, i) => b.failed(err, 5 + i, 2_000, 0));
  assert.equal(b.failures, 1);
  assert.equal(delays[0], 100);
  assert.ok(delays.every((d) => d <= 100));
  // The next round (started after those failures) doubles.
  assert.equal(b.failed(err, 200, 2_000, 110), 200);
});
