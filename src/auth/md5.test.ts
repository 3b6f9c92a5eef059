import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { isMd5Hash, md5FromStoredHash, md5Password, md5StoredHash, verifyMd5Response } from './md5.js';
import { verifyCleartextPassword, methodsForSecret } from './password-verify.js';
import { classifySecret } from './userlist.js';
import { makeScramSecret } from './scram-secret.js';

const md5 = (s: string | Buffer): string => createHash('md5').update(s).digest('hex');
const SALT = Buffer.from([0x01, 0x02, 0x03, 0x04]);

test('md5Password is md5(md5(password + user) + salt), as libpq computes it', () => {
  const inner = md5('secretalice');
  const expected = 'md5' + md5(Buffer.concat([Buffer.from(inner), SALT]));
  assert.equal(md5Password('alice', 'secret', SALT), expected);
  assert.equal(md5StoredHash('alice', 'secret'), 'md5' + inner);
  assert.equal(md5FromStoredHash('md5' + inner, SALT), expected);
});

test('a well-known stored hash: postgres/postgres', () => {
  // SELECT 'md5' || md5('postgres' || 'postgres')
  assert.equal(md5StoredHash('postgres', 'postgres'), 'md53175bce1d3201d16594cebf9d7eb3f9d');
});

test('verifyMd5Response against a stored hash or a cleartext password', () => {
  const response = md5Password('alice', 'secret', SALT);
  assert.equal(verifyMd5Response(md5StoredHash('alice', 'secret'), 'alice', SALT, response), true);
  assert.equal(verifyMd5Response('secret', 'alice', SALT, response), true);
  assert.equal(verifyMd5Response('secret', 'alice', SALT, Buffer.from(response)), true);
  assert.equal(verifyMd5Response('secret', 'bob', SALT, response), false);
  assert.equal(verifyMd5Response('secret', 'alice', Buffer.from([1, 2, 3, 5]), response), false);
  assert.equal(verifyMd5Response('other', 'alice', SALT, response), false);
  assert.equal(verifyMd5Response('secret', 'alice', SALT, response.slice(0, -1)), false);
  assert.equal(verifyMd5Response('secret', 'alice', SALT, ''), false);
  assert.equal(verifyMd5Response('', 'alice', SALT, md5Password('alice', '', SALT)), false);
});

test('bad salts and hashes are refused clearly', () => {
  assert.throws(() => md5Password('a', 'b', Buffer.alloc(3)), /4 bytes/);
  assert.throws(() => md5FromStoredHash('md5XYZ', SALT), /32 hex/);
  assert.equal(isMd5Hash('md5' + 'A'.repeat(32)), false); // PostgreSQL accepts lowercase only
  assert.equal(isMd5Hash('md5' + 'a'.repeat(32)), true);
});

test('verifyCleartextPassword for every stored kind', () => {
  const plain = classifySecret('secret');
  const hashed = classifySecret(md5StoredHash('alice', 'secret'));
  const scram = classifySecret(makeScramSecret('secret', { iterations: 8 }));
  for (const stored of [plain, hashed, scram]) {
    assert.equal(verifyCleartextPassword(stored, 'alice', 'secret'), true, stored.kind);
    assert.equal(verifyCleartextPassword(stored, 'alice', 'secreT'), false, stored.kind);
    assert.equal(verifyCleartextPassword(stored, 'alice', ''), false, stored.kind);
  }
  assert.equal(verifyCleartextPassword(hashed, 'bob', 'secret'), false);
  assert.equal(verifyCleartextPassword(classifySecret(''), 'alice', ''), false);
  assert.deepEqual(methodsForSecret(hashed), ['md5', 'password']);
  assert.deepEqual(methodsForSecret(scram), ['scram-sha-256', 'password']);
});
