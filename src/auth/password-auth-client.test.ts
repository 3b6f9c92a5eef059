import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PasswordAuthClient } from './password-auth-client.js';
import { md5Password } from './md5.js';

function request(code: number, rest: Buffer = Buffer.alloc(0)): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(code);
  return Buffer.concat([b, rest]);
}

/** The body of a PasswordMessage ('p'): the password or hash, NUL-terminated. */
function passwordOf(message: Buffer): string {
  assert.equal(message[0], 0x70);
  return message.toString('utf8', 5, message.length - 1);
}

test('cleartext and md5 answers, AuthenticationOk needs nothing', () => {
  const c = new PasswordAuthClient('app', 's3cret');
  assert.deepEqual(c.answer(request(0)), { kind: 'nothing' });
  const clear = c.answer(request(3));
  assert.equal(clear.kind === 'send' && passwordOf(clear.message), 's3cret');
  const salt = Buffer.from([1, 2, 3, 4]);
  const md5 = c.answer(request(5, salt));
  assert.equal(md5.kind === 'send' && passwordOf(md5.message), md5Password('app', 's3cret', salt));
  assert.equal(c.method, 'md5');
});

test('SASL starts SCRAM-SHA-256 with a client-first message', () => {
  const c = new PasswordAuthClient('app', 's3cret');
  const step = c.answer(request(10, Buffer.from('SCRAM-SHA-256\0\0')));
  assert.equal(step.kind, 'send');
  assert.match(step.kind === 'send' ? step.message.toString('latin1') : '', /SCRAM-SHA-256\0.*n,,n=,r=/s);
  assert.equal(c.method, 'scram-sha-256');
});

test('no password, truncated requests, SASL steps out of order, unknown methods', () => {
  const c = new PasswordAuthClient('app', undefined);
  assert.deepEqual(c.answer(request(5, Buffer.alloc(4))), { kind: 'needs-password', method: 'md5' });
  assert.deepEqual(c.answer(request(10, Buffer.from('SCRAM-SHA-256\0\0'))), { kind: 'needs-password', method: 'scram-sha-256' });
  assert.deepEqual(c.answer(Buffer.from([0, 0])), { kind: 'malformed', message: 'a truncated authentication request' });
  assert.deepEqual(c.answer(request(11, Buffer.from('r=x'))), { kind: 'malformed', message: 'SASLContinue out of order' });
  assert.deepEqual(c.answer(request(12, Buffer.from('v=x'))), { kind: 'malformed', message: 'SASLFinal out of order' });
  assert.deepEqual(c.answer(request(7)), { kind: 'unsupported', code: 7, name: 'GSSAPI (request code 7)' });
  assert.deepEqual(c.answer(request(9)), { kind: 'unsupported', code: 9, name: 'SSPI (request code 9)' });
  assert.deepEqual(c.answer(request(42)), { kind: 'unsupported', code: 42, name: 'an unknown method (request code 42)' });
});
