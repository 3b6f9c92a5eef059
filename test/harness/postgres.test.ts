import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startPostgres } from './postgres.js';
import { findPgBinDir } from './pg-binaries.js';

test('harness starts a real PostgreSQL, runs SQL, restarts and stops', async () => {
  assert.ok(findPgBinDir().length > 0);
  const pg = await startPostgres({ setupSql: 'CREATE ROLE app LOGIN' });
  try {
    assert.match(pg.sql('SELECT version()'), /^PostgreSQL \d+/);
    assert.equal(pg.sql("SELECT rolname FROM pg_roles WHERE rolname = 'app'"), 'app');
    await pg.restart();
    assert.equal(pg.sql('SELECT 1'), '1');
  } finally {
    await pg.stop();
  }
  await pg.stop(); // idempotent
});
