import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { BadMessageLength, MessageReader } from './message-reader.js';
import { MessageWriter } from './message-writer.js';

const w = new MessageWriter(64);
const message = (type: string, body: string): Buffer => w.reset().begin(type.charCodeAt(0)).bytes(Buffer.from(body)).end().take();

/** Pushes `stream` in reads of `size` bytes, taking each message as soon as it is whole. */
function readAll(stream: Buffer, size: number, max = 1024): { got: string[]; rest: Buffer | undefined } {
  const r = new MessageReader(max);
  const got: string[] = [];
  for (let i = 0; i < stream.length; i += size) {
    r.push(stream.subarray(i, i + size));
    for (let m = r.next(); m; m = r.next()) got.push(`${String.fromCharCode(m.type)}:${m.body.toString()}`);
  }
  return { got, rest: r.rest() };
}

test('MessageReader: whole messages in order, whatever the read sizes', () => {
  const stream = Buffer.concat([message('Q', 'SELECT 1\0'), message('X', ''), message('p', 'secret\0')]);
  for (let size = 1; size <= stream.length; size++) {
    const { got, rest } = readAll(stream, size);
    assert.deepEqual(got, ['Q:SELECT 1\0', 'X:', 'p:secret\0'], `reads of ${size}`);
    assert.equal(rest, undefined);
  }
});

test('MessageReader: a stream cut at every byte gives the whole messages before the cut and hands the rest back untouched', () => {
  const first = message('p', 'pw\0');
  const stream = Buffer.concat([first, message('Q', 'SELECT 2\0')]);
  for (let cut = 0; cut <= stream.length; cut++) {
    const { got, rest } = readAll(stream.subarray(0, cut), 3);
    const expected = cut >= first.length ? ['p:pw\0'] : [];
    if (cut === stream.length) expected.push('Q:SELECT 2\0');
    assert.deepEqual(got, expected, `cut at ${cut}`);
    const left = stream.subarray(cut >= first.length ? (cut === stream.length ? cut : first.length) : 0, cut);
    assert.deepEqual(rest ?? Buffer.alloc(0), left);
  }
});

test('MessageReader: a length under 4 or over the limit is refused from the header alone', () => {
  const r = new MessageReader(100);
  r.push(Buffer.from([0x51, 0, 0, 0, 101]));
  assert.throws(
    () => r.next(),
    (err: unknown) => err instanceof BadMessageLength && err.length === 101 && err.sqlstate === '08P01' && err.code === 'BAD_MESSAGE_LENGTH',
  );
  const under = new MessageReader(100);
  under.push(Buffer.from([0x51, 0xff, 0xff, 0xff, 0xff]));
  assert.throws(() => under.next(), (err: unknown) => err instanceof BadMessageLength && err.length === -1);
  const four = new MessageReader(100);
  four.push(Buffer.from([0x58, 0, 0, 0, 4]));
  assert.deepEqual(four.next(), { type: 0x58, body: Buffer.alloc(0) });
});

test('MessageReader: random bytes in random reads give messages, a BadMessageLength, or a wait (property)', () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), fc.integer({ min: 1, max: 16 }), (bytes, size) => {
      try {
        readAll(Buffer.from(bytes), size, 32);
      } catch (err) {
        assert.ok(err instanceof BadMessageLength, String(err));
      }
    }),
  );
});
