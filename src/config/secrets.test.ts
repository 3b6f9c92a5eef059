import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isPgmoatError } from '../util/errors.js';
import { makeFixture } from './fixture.test-helper.js';
import { resolvePassword } from './secrets.js';

const fx = makeFixture();
after(() => fx.cleanup());

describe('resolvePassword', () => {
  it('reads password_file without its trailing newline', () => {
    const path = fx.file('pw1', 'S3cr3t!\n', 0o600);
    assert.equal(resolvePassword({ name: 'app', password_file: path, password_env: undefined }), 'S3cr3t!');
  });

  it('reads the variable named by password_env', () => {
    assert.equal(resolvePassword({ name: 'app', password_file: undefined, password_env: 'PW' }, { PW: 'from-env' }), 'from-env');
  });

  it('is undefined when no password is configured', () => {
    assert.equal(resolvePassword({ name: 'app', password_file: undefined, password_env: undefined }, {}), undefined);
  });

  it('refuses a password file others can read, without showing its content', () => {
    const path = fx.file('pw2', 'topsecret\n', 0o644);
    assert.throws(
      () => resolvePassword({ name: 'app', password_file: path, password_env: undefined }),
      (err: unknown) => isPgmoatError(err) && err.code === 'KEY_PERMISSIONS' && !err.message.includes('topsecret'),
    );
  });

  it('names the variable, never a value, when it is missing or empty', () => {
    for (const env of [{}, { APP_PW: '' }]) {
      assert.throws(
        () => resolvePassword({ name: 'app', password_file: undefined, password_env: 'APP_PW' }, env),
        (err: unknown) =>
          isPgmoatError(err) && err.code === 'PASSWORD_MISSING' && /APP_PW \(databases\.app\.password_env\) is (not set|empty)/.test(err.message),
      );
    }
  });

  it('takes a loaded database config as is', () => {
    fx.file('pw3', 'pw\n', 0o600);
    const { config } = fx.parse('tls: { mode: disable }\ndatabases: { app: { host: h, password_file: pw3 } }');
    assert.equal(resolvePassword(config.databases.app!), 'pw');
  });
});
