import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ScramClient, chooseSaslMechanism } from './scram-client.js';
import { isPgmoatError } from '../util/errors.js';

// RFC 7677 section 3.
const RFC = {
  clientFirst: 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO',
  serverFirst: 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
  clientFinal:
    'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
  serverFinal: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=',
};

function rfcClient(): ScramClient {
  return new ScramClient('pencil', { username: 'user', nonce: 'rOprNGfwEbeRWgbNEkqO' });
}

function assertProtocolError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isPgmoatError(err));
    assert.equal(err.code, 'SCRAM_PROTOCOL');
    assert.equal(err.sqlstate, '08P01');
    assert.match(err.message, pattern);
    return true;
  });
}

test('RFC 7677 test vector', () => {
  const c = rfcClient();
  assert.equal(c.clientFirstMessage(), RFC.clientFirst);
  assert.equal(c.handleServerFirst(RFC.serverFirst), RFC.clientFinal);
  c.verifyServerFinal(RFC.serverFinal);
});

test('RFC 7677 test vector, async PBKDF2 and Buffer input', async () => {
  const c = rfcClient();
  c.clientFirstMessage();
  assert.equal(await c.handleServerFirstAsync(Buffer.from(RFC.serverFirst)), RFC.clientFinal);
  c.verifyServerFinal(Buffer.from(RFC.serverFinal));
});

test('libpq-style client-first: gs2 header n,, and an empty user name, random nonce', () => {
  const a = new ScramClient('x').clientFirstMessage();
  const b = new ScramClient('x').clientFirstMessage();
  assert.match(a, /^n,,n=,r=[A-Za-z0-9+/]{24}$/);
  assert.notEqual(a, b);
});

test('user names are escaped in n=', () => {
  const c = new ScramClient('x', { username: 'a,b=c', nonce: 'abc' });
  assert.equal(c.clientFirstMessage(), 'n,,n=a=2Cb=3Dc,r=abc');
});

test('wrong server signature is refused', () => {
  const c = rfcClient();
  c.clientFirstMessage();
  c.handleServerFirst(RFC.serverFirst);
  assertProtocolError(() => c.verifyServerFinal('v=' + Buffer.alloc(32).toString('base64')), /server signature/);
});

test('server error in server-final is reported with 28P01', () => {
  const c = rfcClient();
  c.clientFirstMessage();
  c.handleServerFirst(RFC.serverFirst);
  assert.throws(
    () => c.verifyServerFinal('e=invalid-proof'),
    (err: unknown) => isPgmoatError(err) && err.code === 'SCRAM_SERVER_ERROR' && err.sqlstate === '28P01' && /invalid-proof/.test(err.message),
  );
});

test('server nonce must extend the client nonce', () => {
  for (const r of ['rOprNGfwEbeRWgbNEkqO', 'XOprNGfwEbeRWgbNEkqOabc', 'abc']) {
    const c = rfcClient();
    c.clientFirstMessage();
    assertProtocolError(() => c.handleServerFirst(`r=${r},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096`), /nonce/);
  }
});

test('iteration counts below 1, absurd or malformed are refused', () => {
  for (const i of ['0', '-1', '10000001', '99999999999', 'abc', '', '1e3', '04096']) {
    const c = rfcClient();
    c.clientFirstMessage();
    assertProtocolError(() => c.handleServerFirst(`r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=${i}`), /iteration/);
  }
});

test('malformed server-first messages are refused', () => {
  const cases: [string, RegExp][] = [
    ['', /attribute/],
    ['garbage', /attribute/],
    ['s=W22ZaJ0SNY7soEsUEjb6gQ==,r=rOprNGfwEbeRWgbNEkqOx,i=1', /expected attribute "r"/],
    ['r=rOprNGfwEbeRWgbNEkqOx,i=1', /expected attribute "s"/],
    ['r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==', /lacks attribute "i"/],
    ['r=rOprNGfwEbeRWgbNEkqOx,s=!!!,i=4096', /salt/],
    ['r=rOprNGfwEbeRWgbNEkqOx,s=,i=4096', /salt/],
    ['m=ext,r=rOprNGfwEbeRWgbNEkqOx,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096', /extension/],
    ['r=rOprNGfwEbeRWgbNEkqO\x01,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096', /nonce/],
    ['r=rOprNGfwEbeRWgbNEkqOx,,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096', /attribute/],
    ['x'.repeat(100_000), /too long/],
  ];
  for (const [msg, pattern] of cases) {
    const c = rfcClient();
    c.clientFirstMessage();
    assertProtocolError(() => c.handleServerFirst(msg), pattern);
  }
});

test('messages out of order are refused, and an exchange cannot be replayed', () => {
  const c = rfcClient();
  assertProtocolError(() => c.handleServerFirst(RFC.serverFirst), /out of order/);
  assertProtocolError(() => c.verifyServerFinal(RFC.serverFinal), /out of order/);
  c.clientFirstMessage();
  assertProtocolError(() => c.clientFirstMessage(), /already sent/);
  c.handleServerFirst(RFC.serverFirst);
  assertProtocolError(() => c.handleServerFirst(RFC.serverFirst), /out of order/);
  c.verifyServerFinal(RFC.serverFinal);
  assertProtocolError(() => c.verifyServerFinal(RFC.serverFinal), /out of order/);
});

test('garbage after the server signature is refused', () => {
  const c = rfcClient();
  c.clientFirstMessage();
  c.handleServerFirst(RFC.serverFirst);
  assertProtocolError(() => c.verifyServerFinal(`${RFC.serverFinal},x=1`), /garbage/);
});

test('chooseSaslMechanism', () => {
  assert.equal(chooseSaslMechanism(['SCRAM-SHA-256-PLUS', 'SCRAM-SHA-256']), 'SCRAM-SHA-256');
  assert.equal(chooseSaslMechanism(['SCRAM-SHA-256']), 'SCRAM-SHA-256');
  assert.throws(
    () => chooseSaslMechanism(['SCRAM-SHA-256-PLUS']),
    (err: unknown) => isPgmoatError(err) && err.code === 'SASL_MECHANISM_UNSUPPORTED' && /channel binding/.test(err.message),
  );
  assert.throws(() => chooseSaslMechanism(['OAUTHBEARER']), /OAUTHBEARER/);
  assert.throws(() => chooseSaslMechanism([]), /offered: none/);
});
