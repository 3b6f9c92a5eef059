import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  formatScramSecret,
  makeScramSecret,
  parseScramSecret,
  scramSecretMatchesPassword,
  tryParseScramSecret,
} from './scram-secret.js';
import { isPgmoatError } from '../util/errors.js';

// The RFC 7677 exchange fixes salt, iterations and password, hence this verifier.
const RFC_SALT = Buffer.from('W22ZaJ0SNY7soEsUEjb6gQ==', 'base64');

test('makeScramSecret has PostgreSQL layout and defaults', () => {
  const secret = makeScramSecret('pencil');
  assert.match(secret, /^SCRAM-SHA-256\$4096:[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=:[A-Za-z0-9+/]{43}=$/);
  assert.notEqual(makeScramSecret('pencil'), secret); // random salt
  const fixed = makeScramSecret('pencil', { salt: RFC_SALT, iterations: 4096 });
  assert.equal(fixed, makeScramSecret('pencil', { salt: RFC_SALT, iterations: 4096 }));
  assert.ok(fixed.startsWith('SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$'));
});

test('parse and format round-trip (property)', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 0x7fffffff }),
      fc.uint8Array({ minLength: 1, maxLength: 64 }),
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      fc.uint8Array({ minLength: 32, maxLength: 32 }),
      (iterations, salt, storedKey, serverKey) => {
        const secret = { iterations, salt: Buffer.from(salt), storedKey: Buffer.from(storedKey), serverKey: Buffer.from(serverKey) };
        const text = formatScramSecret(secret);
        assert.deepEqual(parseScramSecret(text), secret);
        assert.equal(formatScramSecret(parseScramSecret(text)), text);
      },
    ),
  );
});

test('malformed secrets are refused without echoing them', () => {
  const good = makeScramSecret('pw', { iterations: 8 });
  const [, rest] = good.split('SCRAM-SHA-256$') as [string, string];
  const [iterSalt, keys] = rest.split('$') as [string, string];
  const bad = [
    'md5abc',
    'SCRAM-SHA-256$',
    `SCRAM-SHA-256$${iterSalt}`,
    `SCRAM-SHA-256$0:${iterSalt.split(':')[1]}$${keys}`,
    `SCRAM-SHA-256$-1:${iterSalt.split(':')[1]}$${keys}`,
    `SCRAM-SHA-256$x:${iterSalt.split(':')[1]}$${keys}`,
    `SCRAM-SHA-256$8:$${keys}`,
    `SCRAM-SHA-256$8:%%%%$${keys}`,
    `SCRAM-SHA-256$${iterSalt}$AAAA:${keys.split(':')[1]}`,
    `SCRAM-SHA-256$${iterSalt}$${keys.split(':')[0]}:`,
    `SCRAM-SHA-256$${iterSalt}$${keys}$extra`,
    `SCRAM-SHA-256$${iterSalt}$${keys}:extra`,
  ];
  for (const text of bad) {
    assert.equal(tryParseScramSecret(text), undefined, text);
    assert.throws(
      () => parseScramSecret(text),
      (err: unknown) => isPgmoatError(err) && err.code === 'SCRAM_SECRET_INVALID' && !err.message.includes(keys.split(':')[1]!),
    );
  }
});

test('options are validated', () => {
  assert.throws(() => makeScramSecret('pw', { iterations: 0 }), /iteration/);
  assert.throws(() => makeScramSecret('pw', { iterations: 1.5 }), /iteration/);
  assert.throws(() => makeScramSecret('pw', { salt: Buffer.alloc(0) }), /salt/);
});

test('a cleartext password can be checked against a verifier', () => {
  const secret = parseScramSecret(makeScramSecret('pencil', { iterations: 16 }));
  assert.equal(scramSecretMatchesPassword(secret, 'pencil'), true);
  assert.equal(scramSecretMatchesPassword(secret, 'Pencil'), false);
  assert.equal(scramSecretMatchesPassword(secret, ''), false);
});
