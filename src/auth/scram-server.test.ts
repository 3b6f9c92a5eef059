import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { ScramClient } from './scram-client.js';
import { ScramServer, assertClientMechanism } from './scram-server.js';
import { makeScramSecret, parseScramSecret, scramSecretFromPassword } from './scram-secret.js';
import { isPgmoatError } from '../util/errors.js';
import { hmacSha256, keysFromSaltedPassword, saltedPassword, xor } from './scram-common.js';

const MOCK_KEY = Buffer.alloc(32, 7);

/** Runs a whole exchange; returns whether the server accepted and the client verified it. */
function exchange(client: ScramClient, server: ScramServer): boolean {
  const serverFirst = server.handleClientFirst(client.clientFirstMessage());
  const result = server.handleClientFinal(client.handleServerFirst(serverFirst));
  if (!result.ok) return false;
  client.verifyServerFinal(result.serverFinal);
  return true;
}

function assertCode(fn: () => unknown, code: string, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isPgmoatError(err), String(err));
    assert.equal(err.code, code);
    assert.equal(err.sqlstate, '08P01');
    assert.match(err.message, pattern);
    return true;
  });
}

test('RFC 7677 vector from the server side', () => {
  // The RFC's verifier for "pencil" with its salt and iteration count.
  const secret = scramSecretFromPassword('pencil', { salt: Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64'), iterations: 4096 });
  const server = new ScramServer(secret, { serverNonce: '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0' });
  assert.equal(
    server.handleClientFirst('n,,n=user,r=rOprNGfwEbeRWgbNEkqO'),
    'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096',
  );
  const result = server.handleClientFinal(
    'c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=',
  );
  assert.deepEqual(result, { ok: true, serverFinal: 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=' });
});

test('client and server agree for random passwords and user names (property)', () => {
  fc.assert(
    fc.property(
      fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }),
      fc.string({ unit: 'binary', maxLength: 20 }),
      fc.integer({ min: 1, max: 64 }),
      (password, username, iterations) => {
        const secret = makeScramSecret(password, { iterations });
        assert.equal(exchange(new ScramClient(password, { username }), new ScramServer(secret)), true);
      },
    ),
    { numRuns: 150 },
  );
});

test('a wrong password is refused (property)', () => {
  fc.assert(
    fc.property(fc.string({ minLength: 1, maxLength: 20 }), fc.string({ minLength: 1, maxLength: 20 }), (good, bad) => {
      fc.pre(good !== bad);
      const secret = makeScramSecret(good, { iterations: 2 });
      assert.equal(exchange(new ScramClient(bad), new ScramServer(secret)), false);
    }),
    { numRuns: 100 },
  );
});

test('server accepts a stored secret as text, as an object, or a plaintext password', () => {
  const text = makeScramSecret('s3cret', { iterations: 16 });
  assert.ok(exchange(new ScramClient('s3cret'), new ScramServer(text)));
  assert.ok(exchange(new ScramClient('s3cret'), new ScramServer(parseScramSecret(text))));
  assert.ok(exchange(new ScramClient('s3cret'), new ScramServer({ plaintext: 's3cret', iterations: 16 })));
  assert.ok(!exchange(new ScramClient('nope'), new ScramServer({ plaintext: 's3cret', iterations: 16 })));
});

test('SASLprep makes equivalent passwords equal (soft hyphen, NFKC)', () => {
  const secret = makeScramSecret('I\u00ADX', { iterations: 4 });
  assert.ok(exchange(new ScramClient('IX'), new ScramServer(secret)));
  assert.ok(exchange(new ScramClient('\u2168'), new ScramServer(secret)));
});

/** A hand-made client, to send what ScramClient never would (y,, and bad attributes). */
function manualFinal(password: string, gs2: string, clientFirstBare: string, serverFirst: string, extra = ''): string {
  const attrs = Object.fromEntries(serverFirst.split(',').map((a) => [a[0], a.slice(2)]));
  const salted = saltedPassword(Buffer.from(password), Buffer.from(attrs.s!, 'base64'), Number(attrs.i));
  const keys = keysFromSaltedPassword(salted);
  const withoutProof = `c=${Buffer.from(gs2).toString('base64')},r=${attrs.r}${extra}`;
  const auth = `${clientFirstBare},${serverFirst},${withoutProof}`;
  const proof = xor(keys.clientKey, hmacSha256(keys.storedKey, auth));
  return `${withoutProof},p=${proof.toString('base64')}`;
}

test('y,, (client supports channel binding, thinks we do not) is accepted; extensions are ignored', () => {
  const secret = makeScramSecret('pw', { iterations: 4 });
  const server = new ScramServer(secret);
  const first = server.handleClientFirst('y,,n=ignored,r=abcdef,x=ext');
  const result = server.handleClientFinal(manualFinal('pw', 'y,,', 'n=ignored,r=abcdef,x=ext', first, ',z=ext'));
  assert.equal(result.ok, true);
});

test('c= must echo the gs2 header the client sent', () => {
  const server = new ScramServer(makeScramSecret('pw', { iterations: 4 }));
  const first = server.handleClientFirst('y,,n=,r=abcdef');
  assertCode(() => server.handleClientFinal(manualFinal('pw', 'n,,', 'n=,r=abcdef', first)), 'SCRAM_PROTOCOL', /channel binding check failed/);
});

test('channel binding requests, authzid and mandatory extensions are refused clearly', () => {
  const secret = makeScramSecret('pw', { iterations: 4 });
  assertCode(() => new ScramServer(secret).handleClientFirst('p=tls-server-end-point,,n=,r=abc'), 'SCRAM_CHANNEL_BINDING_UNSUPPORTED', /channel binding/);
  assertCode(() => new ScramServer(secret).handleClientFirst('n,a=admin,n=,r=abc'), 'SCRAM_PROTOCOL', /authorization identity/);
  assertCode(() => new ScramServer(secret).handleClientFirst('n,,m=x,n=,r=abc'), 'SCRAM_PROTOCOL', /extension/);
  assertCode(() => assertClientMechanism('SCRAM-SHA-256-PLUS'), 'SCRAM_CHANNEL_BINDING_UNSUPPORTED', /channel binding/);
  assertCode(() => assertClientMechanism('PLAIN'), 'SCRAM_PROTOCOL', /invalid SASL authentication mechanism/);
  assertClientMechanism('SCRAM-SHA-256');
});

test('malformed client-first messages are refused', () => {
  const secret = makeScramSecret('pw', { iterations: 4 });
  const cases: [string, RegExp][] = [
    ['', /GS2 header/],
    ['n', /GS2 header/],
    ['n,', /incomplete GS2 header/],
    ['q,,n=,r=abc', /channel-binding flag/],
    ['n,x,n=,r=abc', /GS2 header/],
    ['n,,r=abc', /expected attribute "n"/],
    ['n,,n=', /lacks attribute "r"/],
    ['n,,n=,r=', /nonce/],
    ['n,,n=,r=a\u00e9', /nonce/],
    ['n,,n=,nonce', /attribute/],
    ['n,,' + 'n=' + 'x'.repeat(10_000) + ',r=abc', /too long/],
  ];
  for (const [msg, pattern] of cases) assertCode(() => new ScramServer(secret).handleClientFirst(msg), 'SCRAM_PROTOCOL', pattern);
});

test('malformed client-final messages are refused', () => {
  const secret = makeScramSecret('pw', { iterations: 4 });
  const proof = Buffer.alloc(32).toString('base64');
  const cases: ((nonce: string) => [string, RegExp])[] = [
    () => ['', /attribute/],
    (n) => [`r=${n},p=${proof}`, /expected attribute "c"/],
    (n) => [`c=!!,r=${n},p=${proof}`, /channel-binding data/],
    () => [`c=biws,r=wrongnonce,p=${proof}`, /nonce mismatch/],
    (n) => [`c=biws,r=${n}`, /no proof/],
    (n) => [`c=biws,r=${n},p=${proof},x=1`, /no proof/],
    (n) => [`c=biws,r=${n},p=AAAA`, /ClientProof/],
    (n) => [`c=biws,r=${n},p=***`, /ClientProof/],
  ];
  for (const make of cases) {
    const server = new ScramServer(secret);
    const nonce = /^r=([^,]+)/.exec(server.handleClientFirst('n,,n=,r=abc'))![1]!;
    const [msg, pattern] = make(nonce);
    assertCode(() => server.handleClientFinal(msg), 'SCRAM_PROTOCOL', pattern);
  }
});

test('out-of-order messages are refused and a finished exchange cannot be replayed', () => {
  const server = new ScramServer(makeScramSecret('pw', { iterations: 4 }));
  assertCode(() => server.handleClientFinal('c=biws,r=x,p=y'), 'SCRAM_PROTOCOL', /out of order/);
  const client = new ScramClient('pw');
  const first = server.handleClientFirst(client.clientFirstMessage());
  assertCode(() => server.handleClientFirst('n,,n=,r=abc'), 'SCRAM_PROTOCOL', /out of order/);
  const final = client.handleServerFirst(first);
  assert.equal(server.handleClientFinal(final).ok, true);
  assertCode(() => server.handleClientFinal(final), 'SCRAM_PROTOCOL', /out of order/);
});

test('unknown user: same shape of exchange, deterministic salt per role, always refused', () => {
  const real = makeScramSecret('pw', { iterations: 4096 });
  const realFirst = new ScramServer(real).handleClientFirst('n,,n=,r=abc');
  const mockA1 = ScramServer.forUnknownUser('ghost', MOCK_KEY).handleClientFirst('n,,n=,r=abc');
  const mockA2 = ScramServer.forUnknownUser('ghost', MOCK_KEY).handleClientFirst('n,,n=,r=abc');
  const mockB = ScramServer.forUnknownUser('other', MOCK_KEY).handleClientFirst('n,,n=,r=abc');
  const shape = (m: string): string => m.replace(/[A-Za-z0-9+/=]/g, 'x').replace(/^r=abc/, '');
  assert.equal(shape(mockA1), shape(realFirst));
  const salt = (m: string): string => /,s=([^,]+),/.exec(m)![1]!;
  assert.equal(salt(mockA1), salt(mockA2));
  assert.notEqual(salt(mockA1), salt(mockB));
  assert.notEqual(salt(mockA1), salt(ScramServer.forUnknownUser('ghost', Buffer.alloc(32, 8)).handleClientFirst('n,,n=,r=abc')));
  assert.match(mockA1, /,i=4096$/);
  assert.match(ScramServer.forUnknownUser('ghost', MOCK_KEY, { iterations: 10000 }).handleClientFirst('n,,n=,r=abc'), /,i=10000$/);

  // Whatever the client answers, the result is the same as for a wrong password.
  for (const password of ['pw', '', 'anything']) {
    assert.deepEqual(exchangeResult(new ScramClient(password), ScramServer.forUnknownUser('ghost', MOCK_KEY)), { ok: false });
  }
  assert.deepEqual(exchangeResult(new ScramClient('wrong'), new ScramServer(real)), { ok: false });
  assert.throws(() => ScramServer.forUnknownUser('ghost', Buffer.alloc(4)), /at least 16 bytes/);
});

function exchangeResult(client: ScramClient, server: ScramServer): unknown {
  return server.handleClientFinal(client.handleServerFirst(server.handleClientFirst(client.clientFirstMessage())));
}

// node-postgres's own SCRAM client, an implementation independent of ours (CommonJS, untyped path).
interface PgSaslSession {
  response: string;
}
interface PgSasl {
  startSession(mechanisms: string[], stream?: object): PgSaslSession;
  continueSession(session: PgSaslSession, password: string, serverData: string, stream?: object): Promise<void>;
  finalizeSession(session: PgSaslSession, serverData: string): void;
}
const pgSasl = createRequire(import.meta.url)('pg/lib/crypto/sasl.js') as PgSasl;

test("node-postgres's SCRAM client logs in to our server (n,, and, over TLS, y,,)", async () => {
  const secret = makeScramSecret('pg p\u00e4ss', { iterations: 4096 });
  for (const stream of [undefined, {}]) {
    for (const [password, expected] of [['pg p\u00e4ss', true], ['pg pass', false]] as const) {
      const server = new ScramServer(secret);
      const session = pgSasl.startSession(['SCRAM-SHA-256'], stream);
      assert.match(session.response, stream ? /^y,,/ : /^n,,/);
      const serverFirst = server.handleClientFirst(session.response);
      await pgSasl.continueSession(session, password, serverFirst, stream);
      const result = server.handleClientFinal(session.response);
      assert.equal(result.ok, expected);
      if (result.ok) pgSasl.finalizeSession(session, result.serverFinal);
    }
  }
});
