import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BodyReader, ProtocolViolation, cstringEnd } from './body-reader.js';
import { MessageWriter } from './message-writer.js';

/** A body holding one of each: Int8, Int16, Int32, a string, 3 bytes, then the rest. */
function sampleBody(): Buffer {
  const w = new MessageWriter(64);
  w.int8(0xfe).int16(-2).int32(-123456).cstring('héllo').bytes(Buffer.from([1, 2, 3])).bytes(Buffer.from('tail'));
  return w.take();
}

function readAll(r: BodyReader): unknown[] {
  return [r.int8(), r.int16(), r.int32(), r.cstring(), [...r.bytes(3)], r.rest().toString()];
}

test('BodyReader reads Int8, Int16, Int32, strings and bytes in order', () => {
  const body = sampleBody();
  const r = new BodyReader().reset(body, 0, body.length, 'Sample');
  assert.deepEqual(readAll(r), [0xfe, -2, -123456, 'héllo', [1, 2, 3], 'tail']);
  assert.equal(r.remaining, 0);
});

test('BodyReader: a body cut short at every byte throws 08P01, never reads past its end, never a RangeError', () => {
  const body = sampleBody();
  // The cut body sits inside a bigger buffer whose next bytes would complete it: a reader that
  // looked past `end` would succeed instead of throwing.
  const padded = Buffer.concat([Buffer.from('xx'), body, body]);
  const tailLength = Buffer.byteLength('tail');
  for (let cut = 0; cut < body.length - tailLength; cut++) {
    const r = new BodyReader().reset(padded, 2, 2 + cut, 'Sample');
    assert.throws(
      () => readAll(r),
      (err: unknown) => err instanceof ProtocolViolation && err.sqlstate === '08P01' && /Sample message/.test(err.message),
      `cut at ${cut}`,
    );
  }
  // Only `rest()` is content with what is left.
  for (let cut = body.length - tailLength; cut <= body.length; cut++) {
    const r = new BodyReader().reset(padded, 2, 2 + cut, 'Sample');
    assert.equal(readAll(r)[5], 'tail'.slice(0, cut - (body.length - tailLength)));
  }
});

test('BodyReader: a string needs its NUL within the body; negative byte counts are refused', () => {
  const buf = Buffer.from('abc\0');
  assert.throws(() => new BodyReader().reset(buf, 0, 3, 'Query').cstring(), /Query message with an unterminated string/);
  assert.equal(new BodyReader().reset(buf, 0, 4, 'Query').cstring(), 'abc');
  assert.throws(() => new BodyReader().reset(buf, 0, 4, 'X').bytes(-1), ProtocolViolation);
  assert.equal(cstringEnd(buf, 0, 3), -1);
  assert.equal(cstringEnd(buf, 0, 4), 3);
});

test('BodyReader: any bytes and any sequence of reads end in a value or a ProtocolViolation (property)', () => {
  const op = fc.constantFrom('int8', 'int16', 'int32', 'cstring', 'bytes', 'rest');
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 40 }), fc.array(op, { maxLength: 12 }), fc.nat(8), (bytes, ops, n) => {
      const buf = Buffer.from(bytes);
      const r = new BodyReader().reset(buf, 0, buf.length, 'Any');
      try {
        for (const o of ops) {
          if (o === 'bytes') r.bytes(n);
          else r[o]();
          assert.ok(r.remaining >= 0);
        }
      } catch (err) {
        assert.ok(err instanceof ProtocolViolation, String(err));
      }
    }),
  );
});
