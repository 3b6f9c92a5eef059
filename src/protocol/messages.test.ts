import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loginWelcome } from './messages.js';

/** Splits backend messages by hand, independently of MessageWriter. */
function split(buf: Buffer): { type: string; body: Buffer }[] {
  const out: { type: string; body: Buffer }[] = [];
  let at = 0;
  while (at < buf.length) {
    const len = buf.readInt32BE(at + 1);
    out.push({ type: String.fromCharCode(buf[at]!), body: buf.subarray(at + 5, at + 1 + len) });
    at += 1 + len;
  }
  assert.equal(at, buf.length, 'messages end exactly at the end of the buffer');
  return out;
}

test('the login welcome is AuthenticationOk, the parameters in order, BackendKeyData and ReadyForQuery', () => {
  const params: [string, string][] = [
    ['server_version', '15.4'],
    ['application_name', 'Zoë’s app'],
    ['TimeZone', ''],
  ];
  const messages = split(loginWelcome(params, 4242, -17));
  assert.deepEqual(
    messages.map((m) => m.type),
    ['R', 'S', 'S', 'S', 'K', 'Z'],
  );
  assert.equal(messages[0]!.body.readInt32BE(0), 0);
  assert.equal(messages[0]!.body.length, 4);
  const statuses = messages.slice(1, 4).map((m) => m.body.toString('utf8').split('\0'));
  assert.deepEqual(
    statuses,
    params.map(([k, v]) => [k, v, '']),
  );
  assert.equal(messages[4]!.body.readInt32BE(0), 4242);
  assert.equal(messages[4]!.body.readInt32BE(4), -17);
  assert.deepEqual([...messages[5]!.body], [0x49]);
});

test('each welcome is its own buffer: building the next does not change the last', () => {
  const first = loginWelcome([['a', '1']], 1, 2);
  const copy = Buffer.from(first);
  loginWelcome([['b', 'a much longer value than the first one']], 3, 4);
  assert.deepEqual(first, copy);
});
