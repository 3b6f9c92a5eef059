import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DURATION_BOUNDS_MS, DurationHistogram } from './duration-histogram.js';
import { histogramSamples } from '../admin/scrape-metric.js';

test('observations land in the first bucket whose bound is not below them', () => {
  const h = new DurationHistogram();
  for (const ms of [0, 1, 1.5, 60_000, 60_001, -5, Number.NaN]) h.observe(ms);
  const c = h.cumulative();
  assert.equal(c[0], 4, '0, 1 and the clamped -5 and NaN are <= 1 ms');
  assert.equal(c[1], 5, '1.5 ms is <= 2.5 ms');
  assert.equal(c[DURATION_BOUNDS_MS.length - 1], 6, '60 s is the last finite bound');
  assert.equal(c[DURATION_BOUNDS_MS.length], 7, '+Inf holds everything');
  assert.equal(h.count, 7);
  assert.equal(h.sumMs, 0 + 1 + 1.5 + 60_000 + 60_001);
});

test('cumulative counts never decrease and end at the count (property)', () => {
  fc.assert(
    fc.property(fc.array(fc.double({ min: -10, max: 200_000, noNaN: false })), (values) => {
      const h = new DurationHistogram();
      for (const v of values) h.observe(v);
      const c = h.cumulative();
      for (let i = 1; i < c.length; i++) assert.ok(c[i]! >= c[i - 1]!);
      assert.equal(c.at(-1), values.length);
    }),
  );
});

test('histogramSamples writes seconds, le labels and +Inf', () => {
  const h = new DurationHistogram();
  h.observe(250);
  const s = histogramSamples('x_seconds', { pool: 'p' }, h);
  assert.deepEqual(s.find((x) => x.labels.le === '0.25'), { metricName: 'x_seconds_bucket', labels: { pool: 'p', le: '0.25' }, value: 1 });
  assert.deepEqual(s.find((x) => x.labels.le === '0.1')?.value, 0);
  assert.deepEqual(s.find((x) => x.labels.le === '+Inf')?.value, 1);
  assert.deepEqual(s.find((x) => x.metricName === 'x_seconds_sum')?.value, 0.25);
  assert.deepEqual(s.find((x) => x.metricName === 'x_seconds_count')?.value, 1);
});
