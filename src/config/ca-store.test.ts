import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeFixture } from './fixture.test-helper.js';
import { showConfig } from '../admin/show-config.js';

const fx = makeFixture();
after(() => fx.cleanup());

const BASE = 'tls: { mode: disable }\ndatabases: { app: { host: 127.0.0.1, dbname: app } }\n';

test('ca.store takes a postgres:// URL and an optional password file', () => {
  const pw = fx.file('store-pw', 'secret\n', 0o600);
  const { config } = fx.parse(`${BASE}ca:\n  store: postgres://gw@db.example.com/pgmoat?sslmode=verify-full\n  password_file: ${pw}\n`);
  assert.equal(config.ca?.store, 'postgres://gw@db.example.com/pgmoat?sslmode=verify-full');
  assert.equal(config.ca?.password_file, pw);
});

test('ca.store refuses what is not a postgres URL, and unknown keys', () => {
  assert.match(fx.problems(`${BASE}ca:\n  store: mysql://db/x\n`).join('\n'), /ca\.store.*postgres:\/\//);
  assert.match(fx.problems(`${BASE}ca:\n  store: postgres://db/x\n  stroe: 1\n`).join('\n'), /stroe/);
  assert.match(fx.problems(`${BASE}ca: {}\n`).join('\n'), /ca\.store/);
});

test('SHOW CONFIG shows the store URL without its password', () => {
  const { config } = fx.parse(`${BASE}ca:\n  store: postgres://gw:hunter2pw@db.example.com/pgmoat\n`);
  const rows = showConfig(config).rows as unknown[][];
  const row = rows.find((r) => r[0] === 'ca.store');
  assert.ok(row, 'ca.store is listed');
  assert.equal(row[1], 'postgres://gw:***@db.example.com/pgmoat');
  assert.ok(!JSON.stringify(rows).includes('hunter2pw'));
});
