import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { normalizeSerial, parseSerial } from './serial.js';

test('the canonical serial: lowercase, whole bytes, no leading zero bytes', () => {
  assert.equal(normalizeSerial('094851C7'), '094851c7', 'a leading zero nibble stays: the byte is 09');
  assert.equal(normalizeSerial('94851c7'), '094851c7', 'the short form of the same serial');
  assert.equal(normalizeSerial('0094851c7'), '094851c7');
  assert.equal(normalizeSerial('0080ab'), '80ab', 'a DER sign byte goes');
  assert.equal(normalizeSerial('09:48:51:C7'), '094851c7');
  assert.equal(normalizeSerial('0'), '00');
  assert.equal(normalizeSerial('000'), '00');
  assert.equal(normalizeSerial(''), '00');
});

test('a serial typed by a person: hex with optional colons, else not a serial', () => {
  assert.equal(parseSerial(' 0A:BC:de '), '0abcde');
  assert.equal(parseSerial('00ff'), 'ff');
  assert.equal(parseSerial('f'), '0f');
  assert.equal(parseSerial('0'), '00');
  assert.equal(parseSerial('alice'), undefined);
  assert.equal(parseSerial('ab-cd'), undefined);
  assert.equal(parseSerial(''), undefined);
  assert.equal(parseSerial(':'), undefined);
});

test('property: every spelling of one number has one form, and distinct numbers keep distinct forms', () => {
  fc.assert(
    fc.property(fc.bigInt({ min: 0n, max: 2n ** 160n }), fc.integer({ min: 0, max: 3 }), fc.boolean(), (n, zeros, upper) => {
      let hex = '0'.repeat(zeros) + n.toString(16);
      if (upper) hex = hex.toUpperCase();
      const form = normalizeSerial(hex);
      assert.equal(form.length % 2, 0);
      assert.match(form, /^[0-9a-f]+$/);
      assert.equal(BigInt(`0x${form}`), n);
      assert.ok(form === '00' || !form.startsWith('00'));
      assert.equal(parseSerial(hex), form);
      assert.equal(normalizeSerial(form), form, 'idempotent');
    }),
    { numRuns: 300 },
  );
});
