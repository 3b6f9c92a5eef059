import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { readParameterStatus } from './parameter-status.js';

const body = (s: string): Buffer => Buffer.from(s, 'utf8');

test('ParameterStatus: name and value, read within [start, end) of a bigger buffer', () => {
  const buf = Buffer.concat([body('junk'), body('TimeZone\0Europe/Zürich\0'), body('more\0')]);
  const into = new Map<string, string>();
  assert.equal(readParameterStatus(buf, 4, buf.length - 5, into), true);
  assert.deepEqual([...into], [['TimeZone', 'Europe/Zürich']]);
  const empty = body('application_name\0\0');
  assert.equal(readParameterStatus(empty, 0, empty.length, into), true);
  assert.equal(into.get('application_name'), '');
});

test('ParameterStatus: a body cut at every byte, or with an empty name, sets nothing', () => {
  const whole = body('DateStyle\0ISO, MDY\0');
  // The bytes after `end` would complete the message: a parser that read past it would accept.
  const buf = Buffer.concat([whole, whole]);
  for (let cut = 0; cut < whole.length; cut++) {
    const into = new Map<string, string>();
    assert.equal(readParameterStatus(buf, 0, cut, into), false, `cut at ${cut}`);
    assert.equal(into.size, 0);
  }
  assert.equal(readParameterStatus(body('\0value\0'), 0, 7, new Map()), false);
});

test('ParameterStatus: any bytes give true with one entry, or false with none (property)', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 30 }), (bytes) => {
      const buf = Buffer.from(bytes);
      const into = new Map<string, string>();
      const ok = readParameterStatus(buf, 0, buf.length, into);
      assert.equal(into.size, ok ? 1 : 0);
    }),
  );
});
