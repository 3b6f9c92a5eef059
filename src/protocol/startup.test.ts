import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseOptionsParameter, parseStartupPacket, startupPacketLength } from './startup.js';
import { cancelRequest, startupMessage, SSL_REQUEST } from './messages.js';
import { PgmoatError } from '../util/errors.js';

test('startup message round-trips its parameters', () => {
  const pkt = startupMessage({ user: 'app', database: 'db', application_name: 'x y' });
  assert.equal(startupPacketLength(pkt), pkt.length);
  const p = parseStartupPacket(pkt);
  assert.equal(p.kind, 'startup');
  if (p.kind === 'startup') {
    assert.equal(p.params.get('user'), 'app');
    assert.equal(p.params.get('application_name'), 'x y');
  }
  assert.deepEqual(parseStartupPacket(SSL_REQUEST), { kind: 'ssl' });
  assert.deepEqual(parseStartupPacket(cancelRequest(7, -3)), { kind: 'cancel', pid: 7, secret: -3 });
});

test('bad startup packets are refused with a SQLSTATE, never a crash', () => {
  const cases: [Buffer, string][] = [
    [Buffer.from([0, 0, 0, 4]), '08P01'],
    [Buffer.from([0, 0, 0x27, 0x11]), '08P01'], // 10001 bytes
    [Buffer.from([0xff, 0xff, 0xff, 0xff]), '08P01'],
  ];
  for (const [buf, state] of cases) {
    assert.throws(() => startupPacketLength(buf), (e: unknown) => e instanceof PgmoatError && e.sqlstate === state);
  }
  const v2 = Buffer.alloc(8);
  v2.writeInt32BE(8, 0);
  v2.writeInt32BE(2 << 16, 4);
  assert.throws(() => parseStartupPacket(v2), (e: unknown) => e instanceof PgmoatError && e.sqlstate === '0A000');
  const noUser = startupMessage({ database: 'x' });
  assert.throws(() => parseStartupPacket(noUser), (e: unknown) => e instanceof PgmoatError && e.sqlstate === '28000');
  const truncated = Buffer.from(startupMessage({ user: 'a' }));
  truncated[truncated.length - 1] = 0x41; // no final terminator
  assert.throws(() => parseStartupPacket(truncated), (e: unknown) => e instanceof PgmoatError && e.sqlstate === '08P01');
});

test('arbitrary bytes as a startup packet never throw anything but PgmoatError (property)', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 8, maxLength: 200 }), (raw) => {
      const b = Buffer.from(raw);
      b.writeInt32BE(b.length, 0);
      if (raw.length > 5 && raw[4]! % 2 === 0) b.writeInt32BE(196608, 4);
      try {
        parseStartupPacket(b);
      } catch (e) {
        assert.ok(e instanceof PgmoatError, String(e));
      }
    }),
    { numRuns: 500 },
  );
});

test('options parameter: -c settings with escapes', () => {
  const m = parseOptionsParameter('-c search_path=a,b  --statement-timeout=5s -csearch\\ x=1\\ 2');
  assert.equal(m.get('search_path'), 'a,b');
  assert.equal(m.get('statement_timeout'), '5s');
  assert.equal(m.get('search x'), '1 2');
  assert.throws(() => parseOptionsParameter('-d 5'), /unsupported startup option/);
});
