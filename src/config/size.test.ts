import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { formatSize, parseSize } from './size.js';

const bytes = (input: unknown): number => {
  const r = parseSize(input);
  assert.ok(r.ok, `expected ${String(input)} to parse`);
  return r.value;
};

describe('parseSize', () => {
  it('reads bytes and binary units', () => {
    assert.equal(bytes(4096), 4096);
    assert.equal(bytes('4096'), 4096);
    assert.equal(bytes('1kB'), 1024);
    assert.equal(bytes('16MB'), 16 * 1024 ** 2);
    assert.equal(bytes('1GB'), 1024 ** 3);
    assert.equal(bytes('1.5kB'), 1536);
    assert.equal(bytes('8 kb'), 8192);
  });

  it('refuses fractions of a byte and nonsense', () => {
    for (const bad of [1.5, '0.1kB', '-1', 'big', '1TB', true, null, -4]) {
      assert.equal(parseSize(bad).ok, false, String(bad));
    }
  });

  it('round-trips through formatSize', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4 * 1024 ** 3 }), (n) => {
        const r = parseSize(formatSize(n));
        return r.ok && r.value === n;
      }),
    );
    assert.equal(formatSize(1024 ** 3), '1GB');
    assert.equal(formatSize(1536), '1536');
    assert.equal(formatSize(3 * 1024), '3kB');
  });
});
