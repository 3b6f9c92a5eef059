import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { PasswordAuthClient } from '../auth/password-auth-client.js';
import { md5Password } from '../auth/md5.js';
import { ScramServer } from '../auth/scram-server.js';
import { AuthCode, Backend } from './codes.js';
import { errorResponse, noticeResponse } from './error-response.js';
import { LoginExchange, type LoginResult } from './login-exchange.js';
import { MessageWriter } from './message-writer.js';
import { authRequest, authSasl, loginWelcome } from './messages.js';

const w = new MessageWriter(64);
const message = (type: number, body: Buffer = Buffer.alloc(0)): Buffer => w.reset().begin(type).bytes(body).end().take();
const WELCOME = loginWelcome(
  [
    ['server_version', '16.2'],
    ['TimeZone', 'UTC'],
  ],
  4242,
  -7,
);
const REFUSAL = errorResponse({ severity: 'FATAL', code: '28P01', message: 'password authentication failed for user "app"' });

interface Run {
  ex: LoginExchange;
  sent: Buffer[];
  results: LoginResult[];
}

/** `null`: no password known. */
function exchange(password: string | null = 's3cret'): Run {
  const sent: Buffer[] = [];
  const results: LoginResult[] = [];
  const ex = new LoginExchange(new PasswordAuthClient('app', password ?? undefined), { send: (b) => sent.push(b), done: (r) => results.push(r) });
  ex.start({ user: 'app', database: 'appdb' });
  return { ex, sent, results };
}

/** Feeds `stream` in pieces of `size` bytes (the last one shorter). */
function feed(ex: LoginExchange, stream: Buffer, size: number): void {
  for (let i = 0; i < stream.length; i += size) ex.feed(stream.subarray(i, i + size));
}

/** Runs `check` once per chunk size, 1 byte up to the whole stream in one read. */
function everySize(stream: Buffer, password: string | null, check: (r: Run, size: number) => void): void {
  for (let size = 1; size <= stream.length; size++) {
    const r = exchange(password);
    feed(r.ex, stream, size);
    check(r, size);
  }
}

const only = (r: Run, size: number): LoginResult => {
  assert.equal(r.results.length, 1, `one result with reads of ${size} bytes`);
  return r.results[0]!;
};

test('login: trust, fed in reads of every size: ready with parameters, cancel key and idle status', () => {
  const stream = Buffer.concat([message(Backend.NegotiateProtocolVersion, Buffer.from([0, 0, 0, 0, 0, 0, 0, 0])), noticeResponse('hello'), WELCOME]);
  everySize(stream, null, (r, size) => {
    const res = only(r, size);
    assert.equal(res.kind, 'ready');
    if (res.kind !== 'ready') return;
    assert.deepEqual([...res.params], [['server_version', '16.2'], ['TimeZone', 'UTC']]);
    assert.deepEqual([res.pid, res.secret, res.txStatus, res.method], [4242, -7, 0x49, 'none']);
    assert.equal(r.sent.length, 1, 'only the StartupMessage went out');
    assert.match(r.sent[0]!.toString('latin1'), /user\0app\0database\0appdb\0\0$/);
  });
});

test('login: cleartext and md5 answers go out, then the welcome is read', () => {
  const salt = Buffer.from([9, 8, 7, 6]);
  for (const [request, expected] of [
    [authRequest(AuthCode.CleartextPassword), 's3cret'],
    [authRequest(AuthCode.MD5Password, salt), md5Password('app', 's3cret', salt)],
  ] as const) {
    everySize(Buffer.concat([request, WELCOME]), 's3cret', (r, size) => {
      assert.equal(only(r, size).kind, 'ready');
      assert.equal(r.sent.length, 2);
      assert.equal(r.sent[1]!.toString('utf8', 5, r.sent[1]!.length - 1), expected);
    });
  }
});

test('login: SCRAM-SHA-256 against a real SCRAM server, each server message split at every size', () => {
  for (let size = 1; size <= 100; size += 7) {
    const server = new ScramServer({ plaintext: 's3cret' });
    const r = exchange('s3cret');
    feed(r.ex, authSasl(['SCRAM-SHA-256']), size);
    const initial = r.sent[1]!;
    const clientFirst = initial.subarray(5 + 'SCRAM-SHA-256\0'.length + 4);
    feed(r.ex, authRequest(AuthCode.SASLContinue, Buffer.from(server.handleClientFirst(clientFirst))), size);
    const final = server.handleClientFinal(r.sent[2]!.subarray(5));
    assert.ok(final.ok);
    feed(r.ex, Buffer.concat([authRequest(AuthCode.SASLFinal, Buffer.from(final.ok ? final.serverFinal : '')), WELCOME]), size);
    const res = only(r, size);
    assert.equal(res.kind === 'ready' && res.method, 'scram-sha-256');
  }
});

test('login: a SCRAM server signature that does not verify ends in auth-failed', () => {
  const server = new ScramServer({ plaintext: 'another password' });
  const r = exchange('s3cret');
  r.ex.feed(authSasl(['SCRAM-SHA-256']));
  r.ex.feed(authRequest(AuthCode.SASLContinue, Buffer.from(server.handleClientFirst(r.sent[1]!.subarray(5 + 14 + 4)))));
  r.ex.feed(authRequest(AuthCode.SASLFinal, Buffer.from(`v=${Buffer.alloc(32).toString('base64')}`)));
  const res = only(r, 0);
  assert.equal(res.kind, 'auth-failed');
  assert.equal(res.kind === 'auth-failed' && res.method, 'scram-sha-256');
});

test('login: an ErrorResponse ends it as refused, saying whether the server had answered before', () => {
  everySize(REFUSAL, 's3cret', (r, size) => {
    const res = only(r, size);
    assert.deepEqual(res.kind === 'refused' && [res.fields.code, res.replied, res.method], ['28P01', false, 'none']);
  });
  everySize(Buffer.concat([authRequest(AuthCode.MD5Password, Buffer.alloc(4)), REFUSAL]), 's3cret', (r, size) => {
    const res = only(r, size);
    assert.deepEqual(res.kind === 'refused' && [res.fields.message, res.replied, res.method], ['password authentication failed for user "app"', true, 'md5']);
  });
});

test('login: no password known, or a method pgmoat does not speak', () => {
  const none = exchange(null);
  none.ex.feed(authSasl(['SCRAM-SHA-256']));
  assert.deepEqual(none.results, [{ kind: 'needs-password', method: 'scram-sha-256' }]);
  const gss = exchange();
  gss.ex.feed(authRequest(AuthCode.GSS));
  assert.deepEqual(gss.results, [{ kind: 'unsupported', code: 7, name: 'GSSAPI (request code 7)', method: 'none' }]);
});

test('login: messages out of their phase, unknown types and bad lengths are protocol errors', () => {
  const ok = authRequest(AuthCode.Ok);
  const cases: [Buffer, RegExp][] = [
    [message(Backend.ReadyForQuery, Buffer.from('I')), /^sent ReadyForQuery before AuthenticationOk$/],
    [message(Backend.ParameterStatus, Buffer.from('a\0b\0')), /^sent ParameterStatus before AuthenticationOk$/],
    [message(Backend.BackendKeyData, Buffer.alloc(8)), /^sent BackendKeyData before AuthenticationOk$/],
    [Buffer.concat([ok, ok]), /^sent an authentication request after AuthenticationOk$/],
    [message(Backend.DataRow), /^sent an unexpected message \(type "D"\) during login$/],
    [Buffer.concat([ok, message(Backend.ParameterStatus, Buffer.from('a\0b'))]), /^sent a malformed ParameterStatus message$/],
    [Buffer.concat([ok, message(Backend.ReadyForQuery)]), /^sent a truncated ReadyForQuery message/],
    [Buffer.from([Backend.Authentication, 0, 0, 0, 3]), /^sent a message of invalid length 3$/],
    [Buffer.from([Backend.Authentication, 0, 0x20, 0, 0]), /^sent a message of invalid length 2097152$/],
    [message(Backend.Authentication, Buffer.from([0, 0])), /^sent a truncated Authentication message/],
    [authRequest(AuthCode.SASLContinue, Buffer.from('r=x')), /^sent SASLContinue out of order$/],
  ];
  for (const [stream, expected] of cases) {
    everySize(stream, 's3cret', (r, size) => {
      const res = only(r, size);
      assert.equal(res.kind, 'protocol', `${expected} at ${size}`);
      assert.match(res.kind === 'protocol' ? res.message : '', expected);
    });
  }
});

test('login: a BackendKeyData cut short at every length is a protocol error (08P01 from the body reader)', () => {
  for (let n = 0; n < 8; n++) {
    const r = exchange();
    r.ex.feed(Buffer.concat([authRequest(AuthCode.Ok), message(Backend.BackendKeyData, Buffer.alloc(n, 1)), WELCOME]));
    const res = only(r, n);
    assert.match(res.kind === 'protocol' ? res.message : '', /^sent a truncated BackendKeyData message/);
  }
});

test('login: a stream that stops at any byte before ReadyForQuery gives no result, and nothing after the result is read', () => {
  const stream = Buffer.concat([authRequest(AuthCode.MD5Password, Buffer.alloc(4)), WELCOME]);
  const firstEnd = authRequest(AuthCode.MD5Password, Buffer.alloc(4)).length;
  for (let cut = 0; cut < stream.length; cut++) {
    const r = exchange();
    r.ex.feed(stream.subarray(0, cut));
    assert.equal(r.results.length, 0, `cut at ${cut}`);
    assert.equal(r.ex.replied, cut >= firstEnd);
    assert.equal(r.ex.phase, cut >= firstEnd + authRequest(AuthCode.Ok).length ? 'welcome' : 'authenticating');
  }
  const r = exchange();
  r.ex.feed(Buffer.concat([stream, REFUSAL]));
  r.ex.feed(REFUSAL);
  assert.deepEqual(r.results.map((x) => x.kind), ['ready']);
  const gone = exchange();
  gone.ex.abandon();
  gone.ex.feed(stream);
  assert.deepEqual(gone.results, []);
});

test('login: any bytes from the server end in at most one result and never throw (property)', () => {
  const pieces = fc.oneof(
    fc.constant(authRequest(AuthCode.Ok)),
    fc.constant(authRequest(AuthCode.MD5Password, Buffer.alloc(4))),
    fc.constant(WELCOME),
    fc.constant(REFUSAL),
    fc.uint8Array({ maxLength: 12 }).map((b) => Buffer.from(b)),
  );
  fc.assert(
    fc.property(fc.array(pieces, { maxLength: 6 }), fc.integer({ min: 1, max: 64 }), (parts, size) => {
      const r = exchange();
      feed(r.ex, Buffer.concat(parts), size);
      assert.ok(r.results.length <= 1);
    }),
  );
});
