import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { configSchema } from '../config/schema.js';
import { poolSettingsFor } from '../config/effective.js';
import { limitShareOf, nodeHasReusePort, reusePortFor, shareConfig, shareOf, sharePoolSettings, shortfalls, type WorkerShare } from './worker-share.js';

const workers = (count: number): WorkerShare[] => Array.from({ length: count }, (_, index) => ({ index, count }));
const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);

test('shares add up to the total exactly and differ by at most one', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 100_000 }), fc.integer({ min: 1, max: 64 }), (total, count) => {
      const parts = workers(count).map((s) => shareOf(total, s));
      assert.equal(sum(parts), total);
      assert.ok(Math.max(...parts) - Math.min(...parts) <= 1);
    }),
  );
});

test('20 over 3 workers: 7, 7, 6 (the remainder goes to the first workers)', () => {
  assert.deepEqual(workers(3).map((s) => shareOf(20, s)), [7, 7, 6]);
});

test('a limit share never drops to 0 (0 would mean unlimited): below the worker count each worker gets 1', () => {
  assert.deepEqual(workers(4).map((s) => limitShareOf(2, s)), [1, 1, 1, 1]);
  assert.deepEqual(workers(4).map((s) => limitShareOf(0, s)), [0, 0, 0, 0], '0 (unlimited) stays unlimited');
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 1, max: 64 }), (total, count) => {
      const parts = workers(count).map((s) => limitShareOf(total, s));
      assert.ok(parts.every((p) => p >= 1));
      // The sum holds whenever the total is at least the worker count.
      if (total >= count) assert.equal(sum(parts), total);
      else assert.equal(sum(parts), count);
    }),
  );
});

const config = configSchema.parse({
  tls: { mode: 'disable' },
  max_client_conn: 1001,
  default_pool_size: 20,
  min_pool_size: 5,
  reserve_pool_size: 3,
  max_db_connections: 25,
  max_user_connections: 0,
  databases: { appdb: { host: 'db' }, small: { host: 'db', pool_size: 1, min_pool_size: 0 } },
  users: { report: { pool_size: 7, max_user_connections: 9 } },
});

test('pool settings: every size and limit is split, the rest is left alone', () => {
  const base = poolSettingsFor(config, 'appdb', 'report');
  const parts = workers(2).map((s) => sharePoolSettings(base, s));
  assert.deepEqual(parts.map((p) => p.poolSize), [4, 3]);
  assert.deepEqual(parts.map((p) => p.minPoolSize), [3, 2]);
  assert.deepEqual(parts.map((p) => p.reservePoolSize), [2, 1]);
  assert.deepEqual(parts.map((p) => p.maxDbConnections), [13, 12]);
  assert.deepEqual(parts.map((p) => p.maxUserConnections), [5, 4]);
  for (const p of parts) {
    assert.equal(p.poolMode, base.poolMode);
    assert.equal(p.queryWaitTimeout, base.queryWaitTimeout);
    assert.ok(p.minPoolSize <= p.poolSize);
  }
  const unlimited = workers(3).map((s) => sharePoolSettings(poolSettingsFor(config, 'appdb'), s).maxUserConnections);
  assert.deepEqual(unlimited, [0, 0, 0]);
});

test('min_pool_size stays within the pool size of each worker', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 200 }), fc.integer({ min: 0, max: 200 }), fc.integer({ min: 1, max: 16 }), (pool, min, count) => {
      const base = { ...poolSettingsFor(config, 'appdb'), poolSize: pool, minPoolSize: Math.min(min, pool) };
      const parts = workers(count).map((s) => sharePoolSettings(base, s));
      for (const p of parts) assert.ok(p.minPoolSize <= p.poolSize);
      assert.equal(sum(parts.map((p) => p.minPoolSize)), base.minPoolSize);
    }),
  );
});

test('max_client_conn is split in the config a worker runs', () => {
  assert.deepEqual(workers(2).map((s) => shareConfig(config, s).max_client_conn), [501, 500]);
});

test('shortfalls name every value below the worker count', () => {
  assert.deepEqual(shortfalls(config, 2), ['databases.small.pool_size (1)']);
  assert.deepEqual(shortfalls(config, 8), ['databases.small.pool_size (1)', 'users.report.pool_size (7)']);
  assert.deepEqual(shortfalls(config, 1), []);
});

test('listen.reuse_port applies with several workers, a fixed port and a Node that has reusePort', () => {
  assert.deepEqual(['22.11.0', '22.12.0', '23.0.0', '23.1.0', '24.21.0'].map((v) => nodeHasReusePort(v)), [false, true, false, true, true]);
  const on = { ...config, listen: { ...config.listen, reuse_port: true } };
  assert.equal(reusePortFor(config, 2), false, 'off unless asked for');
  assert.equal(reusePortFor(on, 2), nodeHasReusePort());
  assert.equal(reusePortFor(on, 1), false, 'one worker shares nothing');
  assert.equal(reusePortFor({ ...on, listen: { ...on.listen, port: 0 } }, 2), false, 'port 0 would give each worker a port of its own');
});
