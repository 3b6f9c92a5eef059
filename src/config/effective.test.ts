import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isPgmoatError } from '../util/errors.js';
import { poolSettingsFor } from './effective.js';
import { makeFixture } from './fixture.test-helper.js';

const fx = makeFixture();
after(() => fx.cleanup());

const { config } = fx.parse(`
tls: { mode: disable }
pool_mode: transaction
default_pool_size: 20
min_pool_size: 4
reserve_pool_size: 2
reserve_pool_timeout: 3s
max_db_connections: 50
max_user_connections: 40
server_connect_timeout: 10s
query_wait_timeout: 1m
databases:
  plain: { host: h }
  tuned: { host: h, pool_size: 8, pool_mode: session, min_pool_size: 1, reserve_pool_size: 0, reserve_pool_timeout: 250ms, max_db_connections: 9, server_connect_timeout: 2s }
users:
  batch: { pool_mode: statement, pool_size: 3, max_user_connections: 5 }
  partial: { max_user_connections: 0 }
`);

describe('poolSettingsFor', () => {
  it('uses the top-level values when nothing overrides them', () => {
    assert.deepEqual(poolSettingsFor(config, 'plain'), {
      poolMode: 'transaction',
      poolSize: 20,
      minPoolSize: 4,
      reservePoolSize: 2,
      reservePoolTimeout: 3_000,
      maxDbConnections: 50,
      maxUserConnections: 40,
      maxPreparedStatements: 200,
      serverConnectTimeout: 10_000,
      serverLoginRetry: 2_000,
      internalQueryTimeout: 10_000,
      serverIdleTimeout: 600_000,
      serverLifetime: 3_600_000,
      serverResetQuery: 'DISCARD ALL',
      serverResetQueryAlways: false,
      serverCheckQuery: 'SELECT 1',
      serverCheckDelay: 30_000,
      queryWaitTimeout: 60_000,
      queryTimeout: 0,
      clientIdleTimeout: 0,
      idleTransactionTimeout: 0,
    });
  });

  it('lets a database override its own settings', () => {
    const s = poolSettingsFor(config, 'tuned', 'someone');
    assert.equal(s.poolMode, 'session');
    assert.equal(s.poolSize, 8);
    assert.equal(s.minPoolSize, 1);
    assert.equal(s.reservePoolSize, 0);
    assert.equal(s.reservePoolTimeout, 250);
    assert.equal(s.maxDbConnections, 9);
    assert.equal(s.serverConnectTimeout, 2_000);
    assert.equal(s.maxUserConnections, 40);
  });

  it('lets a role override the database and the defaults', () => {
    const s = poolSettingsFor(config, 'tuned', 'batch');
    assert.equal(s.poolMode, 'statement');
    assert.equal(s.poolSize, 3);
    assert.equal(s.minPoolSize, 1);
    assert.equal(s.maxUserConnections, 5);
    const p = poolSettingsFor(config, 'plain', 'batch');
    assert.equal(p.poolSize, 3);
    // The top-level minimum never exceeds the pool it applies to.
    assert.equal(p.minPoolSize, 3);
    assert.equal(poolSettingsFor(config, 'plain', 'partial').maxUserConnections, 0);
    assert.equal(poolSettingsFor(config, 'plain', 'partial').poolMode, 'transaction');
  });

  it('refuses an unknown database, including inherited property names', () => {
    for (const name of ['nope', 'toString', '__proto__']) {
      assert.throws(() => poolSettingsFor(config, name), (err: unknown) => isPgmoatError(err) && err.code === 'UNKNOWN_DATABASE');
    }
    assert.equal(poolSettingsFor(config, 'plain', 'constructor').poolSize, 20);
  });
});
