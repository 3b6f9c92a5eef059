import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pgSaslprep, scramPasswordBytes } from './saslprep.js';

test('RFC 4013 examples and the mapping steps', () => {
  assert.deepEqual(pgSaslprep('I\u00ADX'), { ok: true, value: 'IX' }); // soft hyphen mapped to nothing
  assert.deepEqual(pgSaslprep('user'), { ok: true, value: 'user' });
  assert.deepEqual(pgSaslprep('USER'), { ok: true, value: 'USER' });
  assert.deepEqual(pgSaslprep('\u00AA'), { ok: true, value: 'a' }); // NFKC
  assert.deepEqual(pgSaslprep('\u2168'), { ok: true, value: 'IX' }); // NFKC
  assert.deepEqual(pgSaslprep('a\u00A0b\u3000c'), { ok: true, value: 'a b c' }); // non-ASCII spaces
  assert.deepEqual(pgSaslprep('a\uFE0Fb\u200Dc'), { ok: true, value: 'abc' });
  assert.deepEqual(pgSaslprep('\u05D0\u05D1'), { ok: true, value: '\u05D0\u05D1' });
  assert.deepEqual(pgSaslprep('caf\u0065\u0301'), { ok: true, value: 'caf\u00e9' });
});

test('prohibited input is reported (PostgreSQL then uses the raw bytes)', () => {
  assert.deepEqual(pgSaslprep('\u0627\u0031'), { ok: false, reason: 'prohibited' }); // RFC 4013: bidi, must end RandAL
  assert.deepEqual(pgSaslprep('\u05D0a\u05D1'), { ok: false, reason: 'prohibited' }); // RandAL with LCat
  assert.deepEqual(pgSaslprep('\u00AD'), { ok: false, reason: 'prohibited' }); // empty after mapping
  assert.deepEqual(pgSaslprep('x\uE000'), { ok: false, reason: 'prohibited' }); // private use
  assert.deepEqual(pgSaslprep('x\u0007\u00e9'), { ok: false, reason: 'prohibited' }); // control, with non-ASCII
  assert.deepEqual(pgSaslprep('x\uFFFD'), { ok: false, reason: 'prohibited' });
  assert.deepEqual(pgSaslprep(Buffer.from([0x61, 0xff])), { ok: false, reason: 'invalid-utf8' });
});

test('pure ASCII is taken as is, even with control characters (PostgreSQL shortcut)', () => {
  assert.deepEqual(pgSaslprep('x\u0007y'), { ok: true, value: 'x\u0007y' });
  assert.deepEqual(pgSaslprep(''), { ok: true, value: '' });
});

test('scramPasswordBytes falls back to the raw bytes', () => {
  assert.deepEqual(scramPasswordBytes('I\u00ADX'), Buffer.from('IX'));
  assert.deepEqual(scramPasswordBytes('\u00AD'), Buffer.from('\u00AD', 'utf8'));
  assert.deepEqual(scramPasswordBytes(Buffer.from([0x61, 0xff])), Buffer.from([0x61, 0xff]));
  assert.deepEqual(scramPasswordBytes('\u0627\u0031'), Buffer.from('\u0627\u0031', 'utf8'));
});

test('no input crashes it', () => {
  const long = '\u00e9'.repeat(200_000);
  assert.equal(pgSaslprep(long).ok, true);
  assert.equal(pgSaslprep('\ud800').ok, false); // lone surrogate arrives as U+FFFD
});
