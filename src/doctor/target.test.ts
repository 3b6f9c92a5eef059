import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTarget, describeTarget } from './target.js';
import { PgmoatError } from '../util/errors.js';

test('parses user, host, port and database', () => {
  const t = parseTarget('postgres://app@db.example.com:6432/appdb', {});
  assert.deepEqual(t, { host: 'db.example.com', port: 6432, user: 'app', database: 'appdb' });
});

test('defaults: port 5432, database = user, user from PGUSER', () => {
  const t = parseTarget('postgresql://db.example.com', { PGUSER: 'carol' });
  assert.equal(t.port, 5432);
  assert.equal(t.user, 'carol');
  assert.equal(t.database, 'carol');
});

test('IPv6 literal, percent-encoded names, libpq query parameters', () => {
  const t = parseTarget('postgres://my%20app:s3cret@[::1]:5433/my%2Fdb?sslcert=/c.crt&sslkey=/c.key&sslrootcert=/ca.crt&connect_timeout=3&application_name=x', {});
  assert.equal(t.host, '::1');
  assert.equal(t.user, 'my app');
  assert.equal(t.database, 'my/db');
  assert.equal(t.password, 's3cret');
  assert.equal(t.sslcert, '/c.crt');
  assert.equal(t.sslkey, '/c.key');
  assert.equal(t.sslrootcert, '/ca.crt');
  assert.equal(t.connectTimeout, 3);
  assert.equal(t.applicationName, 'x');
  // The printable form never carries the password.
  assert.equal(describeTarget(t), 'postgres://my%20app@[::1]:5433/my%2Fdb');
});

test('bad URIs are usage errors that never echo a password', () => {
  for (const uri of ['not a uri', 'http://x/db', 'postgres://u:hunter2@h:99999/db', 'postgres://u:hunter2@h/db?connect_timeout=-1', 'postgres://u:%zz@h/db', 'postgres://a,b/db']) {
    assert.throws(
      () => parseTarget(uri, {}),
      (err: unknown) => err instanceof PgmoatError && err.code === 'USAGE' && !err.message.includes('hunter2'),
      uri,
    );
  }
});

test('keyword/value connection strings, as libpq takes them', () => {
  const t = parseTarget("host=db.example.com port=6432 dbname=appdb user=app sslcert=/c.crt sslkey='/my keys/c.key' sslrootcert=/ca.crt sslmode=verify-full connect_timeout=3 password=s3cret application_name=x", {});
  assert.equal(t.host, 'db.example.com');
  assert.equal(t.port, 6432);
  assert.equal(t.database, 'appdb');
  assert.equal(t.user, 'app');
  assert.equal(t.sslcert, '/c.crt');
  assert.equal(t.sslkey, '/my keys/c.key');
  assert.equal(t.sslrootcert, '/ca.crt');
  assert.equal(t.connectTimeout, 3);
  assert.equal(t.applicationName, 'x');
  assert.equal(describeTarget(t), 'postgres://app@db.example.com:6432/appdb');
  const escaped = parseTarget("host = localhost  password='a \\'b\\' c'", { PGUSER: 'carol' });
  assert.equal(escaped.password, "a 'b' c");
  assert.equal(escaped.user, 'carol');
  assert.equal(escaped.database, 'carol');
  assert.equal(escaped.port, 5432);
});

test('bad keyword/value strings are usage errors that never echo a password', () => {
  for (const text of ['port=5432 user=app', "host=h password='hunter2", 'host=h prot=5432 password=hunter2', 'host=h port=99999 password=hunter2', 'host=/var/run/postgresql', 'host=a,b']) {
    assert.throws(
      () => parseTarget(text, {}),
      (err: unknown) => err instanceof PgmoatError && err.code === 'USAGE' && !err.message.includes('hunter2'),
      text,
    );
  }
});
