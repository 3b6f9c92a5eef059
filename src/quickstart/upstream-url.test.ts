import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseUpstreamUrl } from './upstream-url.js';
import { isPgmoatError } from '../util/errors.js';

test('parses user, percent-encoded password, host, port, database and sslmode', () => {
  assert.deepEqual(parseUpstreamUrl('postgres://app:s3cr%40t@db.example:5433/appdb?sslmode=require'), {
    host: 'db.example',
    port: 5433,
    user: 'app',
    password: 's3cr@t',
    dbname: 'appdb',
    tlsMode: 'require',
  });
});

test('defaults: port 5432, database = user, sslmode prefer, no password; IPv6 hosts lose their brackets', () => {
  assert.deepEqual(parseUpstreamUrl('postgresql://app@[::1]'), { host: '::1', port: 5432, user: 'app', password: undefined, dbname: 'app', tlsMode: 'prefer' });
});

test('bad URLs give INVALID_UPSTREAM_URL and never echo the password', () => {
  for (const bad of ['nonsense', 'mysql://a:pw@h/db', 'postgres://:pw@h/db', 'postgres://a:hunter2@h/db?sslmode=maybe', 'postgres://a:hunter2@h/db?foo=1', 'postgres://a:hunter2@h:99999/db']) {
    assert.throws(
      () => parseUpstreamUrl(bad),
      (err: unknown) => isPgmoatError(err) && err.code === 'INVALID_UPSTREAM_URL' && !err.message.includes('hunter2') && !err.message.includes(bad),
      bad,
    );
  }
});
