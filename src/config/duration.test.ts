import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatDuration, MAX_DURATION_MS, parseDuration } from './duration.js';

const ms = (input: unknown): number => {
  const r = parseDuration(input);
  assert.ok(r.ok, `expected ${String(input)} to parse: ${r.ok ? '' : r.reason}`);
  return r.value;
};
const reason = (input: unknown): string => {
  const r = parseDuration(input);
  assert.ok(!r.ok, `expected ${String(input)} to be refused`);
  return r.reason;
};

describe('parseDuration', () => {
  it('reads numbers as seconds, fractions included', () => {
    assert.equal(ms(30), 30_000);
    assert.equal(ms(0), 0);
    assert.equal(ms(1.5), 1_500);
    assert.equal(ms(0.25), 250);
  });

  it('reads every unit', () => {
    assert.equal(ms('500ms'), 500);
    assert.equal(ms('30s'), 30_000);
    assert.equal(ms('5m'), 300_000);
    assert.equal(ms('2h'), 7_200_000);
    assert.equal(ms('1d'), 86_400_000);
    assert.equal(ms('1.5m'), 90_000);
    assert.equal(ms(' 10 s '), 10_000);
    assert.equal(ms('15'), 15_000);
  });

  it('refuses what is not a duration, saying what is expected', () => {
    for (const bad of ['5x', '', 's', '-1s', '1e3s', 'ten seconds', '5 m s', true, null, {}, [], Number.NaN, Infinity]) {
      assert.match(reason(bad), /expected a duration/, String(bad));
    }
    assert.match(reason(-1), /0 or more/);
    assert.match(reason(0.0001), /at least 1ms/);
    assert.match(reason('25d'), /at most 2147483647ms \(about 24\.8 days\)/);
    assert.equal(ms('2147483647ms'), MAX_DURATION_MS);
  });

  it('round-trips: formatting whole milliseconds then parsing gives them back', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MAX_DURATION_MS }), (n) => {
        const r = parseDuration(formatDuration(n));
        return r.ok && r.value === n;
      }),
    );
  });

  it('picks the largest exact unit when formatting', () => {
    assert.equal(formatDuration(0), '0s');
    assert.equal(formatDuration(1_500), '1500ms');
    assert.equal(formatDuration(30_000), '30s');
    assert.equal(formatDuration(300_000), '5m');
    assert.equal(formatDuration(86_400_000), '1d');
  });

  it('treats a number of seconds as its millisecond count rounded', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2_000_000_000 }), (n) => {
        const r = parseDuration(n / 1000);
        return r.ok && r.value === n;
      }),
    );
  });
});
