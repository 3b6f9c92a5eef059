import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkStoreUrl, redactUrl } from './store-pointer.js';

test('redactUrl replaces the password, in the user part and as a parameter, and nothing else', () => {
  assert.equal(redactUrl('postgres://ca:s3cret@db.example.com:5433/pgmoat?sslmode=verify-full'), 'postgres://ca:***@db.example.com:5433/pgmoat?sslmode=verify-full');
  assert.equal(redactUrl('postgres://ca@db/pgmoat'), 'postgres://ca@db/pgmoat');
  assert.equal(redactUrl('postgresql://db/pgmoat?user=ca&password=s3cret&connect_timeout=2'), 'postgresql://db/pgmoat?user=ca&password=***&connect_timeout=2');
  assert.equal(redactUrl('postgres://ca:p%40ss@db/x'), 'postgres://ca:***@db/x');
  assert.equal(redactUrl('not a url with s3cret'), '(unparseable store URL)');
});

test('checkStoreUrl takes postgres:// and postgresql:// only, and never echoes a password', () => {
  assert.equal(checkStoreUrl('postgres://ca@db/x', '--to'), 'postgres://ca@db/x');
  assert.equal(checkStoreUrl('postgresql://ca@db/x', '--to'), 'postgresql://ca@db/x');
  assert.throws(() => checkStoreUrl('mysql://ca:s3cret@db/x', '--to'), (err: Error & { code?: string }) => err.code === 'STORE_URL_INVALID' && !err.message.includes('s3cret') && err.message.includes('mysql://ca:***@db/x'));
  assert.throws(() => checkStoreUrl('db.example.com', '--to'), { code: 'STORE_URL_INVALID' });
});
