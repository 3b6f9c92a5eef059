/**
 * The quick start's embedded PostgreSQL on its own, reached with node-postgres over
 * pglite-socket: from the shipped template, and by initdb when no template fits.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../src/quickstart/embedded-postgres.js';
import { planDataDir } from '../../src/quickstart/pgdata-template.js';

async function query(db: EmbeddedPostgres, sql: string): Promise<Record<string, unknown>[]> {
  const client = new pg.Client({ host: db.host, port: db.port, user: db.user, database: 'postgres' });
  await client.connect();
  try {
    return (await client.query(sql)).rows as Record<string, unknown>[];
  } finally {
    await client.end();
  }
}

test('from the shipped template: answers, keeps its data across a restart, runs with small shared buffers', { timeout: 120_000 }, async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'pgmoat-embedded-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  const dataDir = join(work, 'pgdata');
  const plan = planDataDir(dataDir);
  assert.equal(plan.kind, 'template');
  const first = await startEmbeddedPostgres(dataDir, plan);
  t.after(() => first.stop());
  assert.deepEqual(await query(first, "SELECT current_setting('shared_buffers') AS sb, current_setting('server_version_num')::int / 10000 AS major"), [
    { sb: '16MB', major: Number((plan as { manifest: { postgres: string } }).manifest.postgres) },
  ]);
  await query(first, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('yes')");
  await first.stop();
  assert.equal(existsSync(join(work, `.pgdata.unpacking-${process.pid}`)), false, 'no staging directory left behind');

  assert.equal(planDataDir(dataDir).kind, 'reuse');
  const second = await startEmbeddedPostgres(dataDir, planDataDir(dataDir));
  t.after(() => second.stop());
  assert.deepEqual(await query(second, 'SELECT v FROM kept'), [{ v: 'yes' }]);
});

test('without a usable template, PGlite runs initdb itself and the result is reused', { timeout: 240_000 }, async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'pgmoat-embedded-'));
  t.after(() => rmSync(work, { recursive: true, force: true }));
  const dataDir = join(work, 'pgdata');
  const plan = planDataDir(dataDir, null);
  assert.equal(plan.kind, 'initdb');
  const db = await startEmbeddedPostgres(dataDir, plan);
  t.after(() => db.stop());
  assert.deepEqual(await query(db, 'SELECT 41 + 1 AS n'), [{ n: 42 }]);
  await db.stop();
  assert.equal(planDataDir(dataDir).kind, 'reuse');
});
