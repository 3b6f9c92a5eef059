import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { V1_MAX, V2_MAX_BODY, V2_SIGNATURE, readProxyHeader, type ProxyHeaderResult } from './proxy-header.js';

const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);
const CLIENT_HELLO_START = Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00]);

/** A v2 header as HAProxy's send-proxy-v2 writes it. */
function v2(opts: { command?: number; family?: number; body?: Buffer; version?: number }): Buffer {
  const body = opts.body ?? Buffer.alloc(0);
  const fixed = Buffer.alloc(4);
  fixed[0] = ((opts.version ?? 2) << 4) | (opts.command ?? 1);
  fixed[1] = opts.family ?? 0x11;
  fixed.writeUInt16BE(body.length, 2);
  return Buffer.concat([V2_SIGNATURE, fixed, body]);
}

function tcp4Body(src: number[], dst: number[], sport: number, dport: number, tlv = Buffer.alloc(0)): Buffer {
  const b = Buffer.alloc(12);
  Buffer.from(src).copy(b, 0);
  Buffer.from(dst).copy(b, 4);
  b.writeUInt16BE(sport, 8);
  b.writeUInt16BE(dport, 10);
  return Buffer.concat([b, tlv]);
}

function header(r: ProxyHeaderResult): Extract<ProxyHeaderResult, { kind: 'header' }> {
  assert.equal(r.kind, 'header', JSON.stringify(r));
  return r as Extract<ProxyHeaderResult, { kind: 'header' }>;
}

test('v1 TCP4: the addresses and the header length, whatever follows it', () => {
  const line = 'PROXY TCP4 192.0.2.10 198.51.100.1 56324 6432\r\n';
  const h = header(readProxyHeader(Buffer.concat([Buffer.from(line, 'latin1'), SSL_REQUEST])));
  assert.deepEqual(h, { kind: 'header', version: 1, length: line.length, source: { address: '192.0.2.10', port: 56324 }, destination: { address: '198.51.100.1', port: 6432 } });
});

test('v1 TCP6 addresses come out in the form Node gives remoteAddress; UNKNOWN names none', () => {
  const h = header(readProxyHeader(Buffer.from('PROXY TCP6 0:0:0:0:0:0:0:1 2001:db8:0:0:0:0:0:1 1 65535\r\n', 'latin1')));
  assert.deepEqual(h.source, { address: '::1', port: 1 });
  assert.deepEqual(h.destination, { address: '2001:db8::1', port: 65535 });
  const u = header(readProxyHeader(Buffer.from('PROXY UNKNOWN\r\n', 'latin1')));
  assert.equal(u.source, undefined);
  assert.equal(u.length, 15);
});

test('v1 lines that are not well formed are refused with a reason', () => {
  for (const line of [
    'PROXY UDP4 192.0.2.1 192.0.2.2 1 2\r\n',
    'PROXY TCP4 192.0.2.1 2001:db8::1 1 2\r\n',
    'PROXY TCP4 192.0.2.1 192.0.2.2 1 65536\r\n',
    'PROXY TCP4 192.0.2.1 192.0.2.2 01 2\r\n',
    'PROXY TCP4 192.0.2.1 192.0.2.2 1\r\n',
    'PROXY TCP4 192.0.2.1  192.0.2.2 1 2\r\n',
    'PROXY TCP4 999.0.2.1 192.0.2.2 1 2\r\n',
  ]) {
    const r = readProxyHeader(Buffer.from(line, 'latin1'));
    assert.equal(r.kind, 'invalid', line);
  }
  const long = Buffer.from(`PROXY TCP4 ${'1'.repeat(V1_MAX)}`, 'latin1');
  assert.equal(readProxyHeader(long).kind, 'invalid', 'no CRLF within the longest v1 line');
});

test('v2 PROXY over TCP4 and TCP6, with TLVs after the addresses', () => {
  const tlv = Buffer.from([0x01, 0x00, 0x02, 0x68, 0x32]); // ALPN "h2"
  const four = v2({ body: tcp4Body([10, 0, 0, 7], [10, 0, 0, 1], 40000, 6432, tlv) });
  const h4 = header(readProxyHeader(Buffer.concat([four, CLIENT_HELLO_START])));
  assert.deepEqual(h4, { kind: 'header', version: 2, length: four.length, source: { address: '10.0.0.7', port: 40000 }, destination: { address: '10.0.0.1', port: 6432 } });
  const body6 = Buffer.alloc(36);
  body6.writeUInt16BE(0x2001, 0);
  body6.writeUInt16BE(0x0db8, 2);
  body6[31] = 1; // destination ::1
  body6.writeUInt16BE(5000, 32);
  body6.writeUInt16BE(6432, 34);
  const h6 = header(readProxyHeader(v2({ family: 0x21, body: body6 })));
  assert.deepEqual(h6.source, { address: '2001:db8::', port: 5000 });
  assert.deepEqual(h6.destination, { address: '::1', port: 6432 });
});

test('v2 LOCAL (a health check) and families other than TCP leave the connection its own address', () => {
  const local = header(readProxyHeader(v2({ command: 0, body: tcp4Body([1, 2, 3, 4], [5, 6, 7, 8], 1, 2) })));
  assert.equal(local.source, undefined);
  assert.equal(local.length, 16 + 12);
  for (const family of [0x00, 0x12, 0x31]) assert.equal(header(readProxyHeader(v2({ family, body: Buffer.alloc(216) }))).source, undefined);
});

test('v2 headers that are not well formed are refused: version, command, a body too short or too long', () => {
  assert.equal(readProxyHeader(v2({ version: 1 })).kind, 'invalid');
  assert.equal(readProxyHeader(v2({ command: 2 })).kind, 'invalid');
  assert.equal(readProxyHeader(v2({ body: Buffer.alloc(11) })).kind, 'invalid');
  assert.equal(readProxyHeader(v2({ family: 0x21, body: Buffer.alloc(35) })).kind, 'invalid');
  // A huge claimed length is refused from the fixed part alone, before its bytes arrive.
  const claim = v2({}).subarray(0, 16);
  claim.writeUInt16BE(V2_MAX_BODY + 1, 14);
  assert.equal(readProxyHeader(claim).kind, 'invalid');
});

test('a connection without a PROXY header is told apart from the first byte that differs', () => {
  assert.equal(readProxyHeader(SSL_REQUEST).kind, 'absent');
  assert.equal(readProxyHeader(CLIENT_HELLO_START).kind, 'absent');
  assert.equal(readProxyHeader(Buffer.from('PROXX', 'latin1')).kind, 'absent');
  assert.equal(readProxyHeader(Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x01])).kind, 'absent');
  assert.equal(readProxyHeader(Buffer.alloc(0)).kind, 'more');
});

test('every strict prefix of a header asks for more; the whole one gives the same answer at any split (property)', () => {
  const headers = [
    Buffer.from('PROXY TCP4 192.0.2.10 198.51.100.1 56324 6432\r\n', 'latin1'),
    Buffer.from('PROXY UNKNOWN\r\n', 'latin1'),
    v2({ body: tcp4Body([10, 0, 0, 7], [10, 0, 0, 1], 40000, 6432, Buffer.from([0x04, 0x00, 0x00])) }),
    v2({ command: 0 }),
  ];
  for (const h of headers) {
    for (let i = 0; i < h.length; i++) assert.equal(readProxyHeader(h.subarray(0, i)).kind, 'more', `prefix of ${i} bytes`);
    assert.equal(header(readProxyHeader(h)).length, h.length);
  }
});

test('arbitrary bytes never throw, and a header never claims more bytes than it was given (property)', () => {
  const prefixed = fc.oneof(
    fc.uint8Array({ maxLength: 300 }),
    fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.concat([V2_SIGNATURE, Buffer.from(b)])),
    fc.string({ maxLength: 120 }).map((s) => Buffer.from(`PROXY ${s}`, 'latin1')),
  );
  fc.assert(
    fc.property(prefixed, (bytes) => {
      const buf = Buffer.from(bytes);
      const r = readProxyHeader(buf);
      if (r.kind === 'header') return r.length <= buf.length && r.length <= 16 + V2_MAX_BODY;
      return ['more', 'absent', 'invalid'].includes(r.kind);
    }),
    { numRuns: 3000 },
  );
});
