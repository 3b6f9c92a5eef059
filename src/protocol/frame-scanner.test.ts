import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DROP, FORWARD, FrameScanner, type FrameAction } from './frame-scanner.js';

function msg(type: string, body: Buffer | string): Buffer {
  const b = typeof body === 'string' ? Buffer.from(body) : body;
  const h = Buffer.alloc(5);
  h[0] = type.charCodeAt(0);
  h.writeInt32BE(b.length + 4, 1);
  return Buffer.concat([h, b]);
}

interface Run {
  out: Buffer;
  seen: string[];
  bad: number[];
}

function run(
  stream: Buffer,
  cuts: number[],
  capture: string,
  decide: (type: string, body: Buffer, s: FrameScanner) => FrameAction = () => FORWARD,
  maxLength?: number,
): Run {
  const parts: Buffer[] = [];
  const seen: string[] = [];
  const bad: number[] = [];
  const scanner: FrameScanner = new FrameScanner(
    {
      onMessage(type, buf, start, end) {
        const body = buf.subarray(start, end);
        const t = String.fromCharCode(type);
        seen.push(`${t}:${body.toString('latin1')}`);
        return decide(t, body, scanner);
      },
      onBadLength(_t, len) {
        bad.push(len);
      },
    },
    { write: (b: Buffer) => parts.push(Buffer.from(b)) },
    maxLength,
  );
  scanner.captureTypes([...capture].map((c) => c.charCodeAt(0)));
  let prev = 0;
  for (const c of [...cuts, stream.length]) {
    scanner.scan(stream.subarray(prev, c));
    prev = c;
  }
  return { out: Buffer.concat(parts), seen, bad };
}

const stream = Buffer.concat([
  msg('Q', 'SELECT 1\0'),
  msg('Z', 'I'),
  msg('D', Buffer.alloc(300, 7)),
  msg('S', 'a\0b\0'),
  msg('H', ''),
  msg('Z', 'T'),
  msg('d', 'row\n'),
]);

test('every split point at one or two offsets forwards the stream unchanged and captures whole messages', () => {
  const whole = run(stream, [], 'ZS');
  assert.deepEqual(whole.out, stream);
  assert.deepEqual(whole.seen, ['Z:I', 'S:a\0b\0', 'Z:T']);
  for (let a = 0; a <= stream.length; a++) {
    const r = run(stream, [a], 'ZS');
    assert.deepEqual(r.out, stream, `cut at ${a}`);
    assert.deepEqual(r.seen, whole.seen, `cut at ${a}`);
  }
  const bytes = Array.from({ length: stream.length - 1 }, (_, i) => i + 1);
  const r = run(stream, bytes, 'ZS');
  assert.deepEqual(r.out, stream);
  assert.deepEqual(r.seen, whole.seen);
});

test('dropped messages vanish and emitted bytes land exactly where the message was', () => {
  const expected = Buffer.concat([
    msg('Q', 'SELECT 1\0'),
    msg('D', Buffer.alloc(300, 7)),
    msg('X', 'inserted'),
    msg('S', 'a\0b\0'),
    msg('H', ''),
    msg('d', 'row\n'),
  ]);
  for (let a = 0; a <= stream.length; a++) {
    for (const b of [a, a + 1, a + 7, stream.length]) {
      const cuts = [a, Math.min(b, stream.length)].filter((x, i, arr) => i === 0 || x >= arr[0]!);
      const r = run(stream, cuts, 'ZS', (t, _b, s) => {
        if (t === 'Z') return DROP;
        s.emit(msg('X', 'inserted'));
        return FORWARD;
      });
      assert.deepEqual(r.out, expected, `cuts ${cuts.join(',')}`);
    }
  }
});

test('random message streams and random splits round-trip (property)', () => {
  const message = fc
    .tuple(fc.constantFrom('Q', 'Z', 'D', 'S', 'C', 'd'), fc.uint8Array({ maxLength: 70 }))
    .map(([t, b]) => msg(t, Buffer.from(b)));
  fc.assert(
    fc.property(fc.array(message, { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 8 }), (msgs, rawCuts) => {
      const s = Buffer.concat(msgs);
      const cuts = [...new Set(rawCuts.map((c) => (s.length ? c % (s.length + 1) : 0)))].sort((x, y) => x - y);
      const r = run(s, cuts, 'ZC');
      assert.deepEqual(r.out, s);
      const expectedSeen = msgs
        .filter((m) => m[0] === 0x5a || m[0] === 0x43)
        .map((m) => `${String.fromCharCode(m[0]!)}:${m.subarray(5).toString('latin1')}`);
      assert.deepEqual(r.seen, expectedSeen);
    }),
    { numRuns: 300 },
  );
});

test('a length below 4 or above the maximum stops the scan and reports it, at any split', () => {
  const bad = Buffer.concat([msg('Q', 'x\0'), Buffer.from([0x51, 0, 0, 0, 2]), msg('Q', 'y\0')]);
  for (let a = 0; a <= bad.length; a++) {
    const r = run(bad, [a], 'Z');
    assert.deepEqual(r.bad, [2], `cut at ${a}`);
  }
  const big = Buffer.concat([msg('Q', 'x\0'), msg('Q', Buffer.alloc(100))]);
  const r = run(big, [], '', undefined, 50);
  assert.deepEqual(r.bad, [104]);
});

test('stop() forwards what came before the stopping message and nothing after', () => {
  const s = Buffer.concat([msg('Q', 'a\0'), msg('X', ''), msg('Q', 'b\0')]);
  for (let a = 0; a <= s.length; a++) {
    const r = run(s, [a], 'X', (_t, _b, sc) => {
      sc.stop();
      return DROP;
    });
    assert.deepEqual(r.out, msg('Q', 'a\0'), `cut at ${a}`);
  }
});

test('one read is one write, even when messages in it are dropped or emitted in their place', () => {
  const writes: Buffer[] = [];
  const scanner = new FrameScanner(
    {
      onMessage(type) {
        if (type === 'P'.charCodeAt(0)) return DROP;
        if (type === 'B'.charCodeAt(0)) {
          scanner.emit(msg('B', 'rewritten\0'));
          return DROP;
        }
        return FORWARD;
      },
      onBadLength() {},
    },
    { write: (b: Buffer) => writes.push(Buffer.from(b)) },
  );
  scanner.captureTypes(['P', 'B', 'S'].map((c) => c.charCodeAt(0)));
  const read = Buffer.concat([msg('P', 'p\0'), msg('B', 'b\0'), msg('E', 'e'), msg('S', '')]);
  scanner.scan(read);
  assert.equal(writes.length, 1);
  assert.deepEqual(writes[0], Buffer.concat([msg('B', 'rewritten\0'), msg('E', 'e'), msg('S', '')]));
  // A read with nothing captured goes on as the very buffer that arrived: no copy.
  const plain = Buffer.concat([msg('D', 'row'), msg('C', 'SELECT 1\0')]);
  let seen: Buffer | undefined;
  const passThrough = new FrameScanner({ onMessage: () => FORWARD, onBadLength() {} }, { write: (b: Buffer) => (seen = b) });
  passThrough.scan(plain);
  assert.equal(seen, plain);
});

test('a captured message is buffered as its bytes arrive, not for the length it claims', () => {
  const seen: number[] = [];
  const scanner = new FrameScanner(
    {
      onMessage(_type, _buf, start, end) {
        seen.push(end - start);
        return FORWARD;
      },
      onBadLength: () => undefined,
    },
    { write: () => undefined },
  );
  scanner.captureTypes([0x51]);
  const claimed = 512 * 1024 * 1024;
  const header = Buffer.alloc(5);
  header[0] = 0x51;
  header.writeInt32BE(claimed + 4, 1);
  const before = process.memoryUsage().arrayBuffers;
  scanner.scan(Buffer.concat([header, Buffer.alloc(10, 0x41)]));
  const grown = process.memoryUsage().arrayBuffers - before;
  // Before: Buffer.allocUnsafe(claimed) at once, half a gigabyte for 15 bytes sent.
  assert.ok(grown < 1024 * 1024, `${grown} bytes taken for a 15-byte piece of a message claiming ${claimed}`);
  assert.equal(scanner.atBoundary, false);
  // And a real message that arrives in pieces is still assembled whole.
  const body = Buffer.alloc(100_000, 0x42);
  const whole = msg('Q', body);
  const s2: FrameScanner = new FrameScanner({ onMessage: (_t, _b, start, end) => (seen.push(end - start), FORWARD), onBadLength: () => undefined }, { write: () => undefined });
  s2.captureTypes([0x51]);
  for (let i = 0; i < whole.length; i += 3001) s2.scan(whole.subarray(i, i + 3001));
  assert.deepEqual(seen, [100_000]);
});
