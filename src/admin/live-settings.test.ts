import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configSchema, type Config } from '../config/schema.js';
import { PgmoatError } from '../util/errors.js';
import { defaultOf, showValue, withSetting } from './live-settings.js';

const base: Config = configSchema.parse({ tls: { mode: 'disable' }, databases: { appdb: { host: '127.0.0.1', pool_size: 4 } } });

function refusal(fn: () => unknown): { code: string; sqlstate: string | undefined; message: string } {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof PgmoatError);
    assert.equal(err.severity, 'ERROR');
    return { code: err.code, sqlstate: err.sqlstate, message: err.message };
  }
  assert.fail('expected an error');
}

test('withSetting converts values as the config file does: durations to ms, sizes to bytes, booleans', () => {
  assert.equal(withSetting(base, 'query_timeout', '10', undefined).query_timeout, 10_000);
  assert.equal(withSetting(base, 'query_timeout', '1500ms', undefined).query_timeout, 1500);
  assert.equal(withSetting(base, 'max_packet_size', '16MB', undefined).max_packet_size, 16 * 1024 * 1024);
  assert.equal(withSetting(base, 'tcp_keepalive', 'off', undefined).tcp_keepalive, false);
  assert.equal(withSetting(base, 'pool_mode', 'statement', undefined).pool_mode, 'statement');
  assert.equal(withSetting(base, 'default_pool_size', '7', undefined).default_pool_size, 7);
  assert.equal(base.default_pool_size, 20, 'the config in force is not modified');
});

test('withSetting shares max_client_conn between the workers as the file value is', () => {
  assert.equal(withSetting(base, 'max_client_conn', '101', { index: 0, count: 2 }).max_client_conn, 51);
  assert.equal(withSetting(base, 'max_client_conn', '101', { index: 1, count: 2 }).max_client_conn, 50);
});

test('a bad SET is refused with a code and SQLSTATE: unknown key, unchangeable key, bad value, broken cross-check', () => {
  assert.deepEqual(refusal(() => withSetting(base, 'no_such_key', '1', undefined)).sqlstate, '42704');
  assert.match(refusal(() => withSetting(base, 'query_timout', '1', undefined)).message, /unknown setting: query_timout/);
  assert.equal(refusal(() => withSetting(base, 'listen.port', '7000', undefined)).sqlstate, '55P02');
  assert.equal(refusal(() => withSetting(base, 'log', 'x', undefined)).code, 'ADMIN_SET_NOT_CHANGEABLE');
  assert.equal(refusal(() => withSetting(base, 'tls.mode', 'disable', undefined)).code, 'ADMIN_SET_NOT_CHANGEABLE');
  const bad = refusal(() => withSetting(base, 'default_pool_size', '0', undefined));
  assert.equal(bad.sqlstate, '22023');
  assert.match(bad.message, /default_pool_size: expected an integer of at least 1/);
  assert.match(refusal(() => withSetting(base, 'query_timeout', 'soon', undefined)).message, /expected a duration/);
  assert.match(refusal(() => withSetting(base, 'pool_mode', 'sesion', undefined)).message, /did you mean "session"/);
  assert.match(refusal(() => withSetting(base, 'min_pool_size', '5', undefined)).message, /pool size of database appdb \(4\)/);
});

test('SHOW CONFIG values: durations with their unit, defaults from the schema', () => {
  assert.equal(showValue('query_wait_timeout', 120_000), '2m');
  assert.equal(showValue('server_login_retry', 1500), '1500ms');
  assert.equal(showValue('query_timeout', 0), '0s');
  assert.equal(showValue('default_pool_size', 20), '20');
  assert.equal(defaultOf('server_lifetime'), '1h');
  assert.equal(defaultOf('pool_mode'), 'session');
  assert.equal(defaultOf('log'), null);
});
