/**
 * A single process's trends across a reload that removes a database: the pool of the removed
 * database goes (pool-set.ts), and its transactions must not leave the summed counter with it.
 * A sum that falls reads as a restart in trends.ts, which then counts the whole remaining sum
 * again as new: a spike. The gateway keeps the removed pools' transactions, so the sum only rises.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { pino } from 'pino';
import { Admin } from '../../src/admin/admin.js';
import { Trends } from '../../src/admin/dashboard/trends.js';
import { clientTlsSection, nodeSsl, plainUpstream, useAppGateway, waitFor, type AppGateway } from '../gateway/helpers.js';

let parts: AppGateway;
let admin: Admin;

// Two databases over the same PostgreSQL database; the reload removes `spare`.
useAppGateway({}, async (p) => {
  parts = p;
  await parts.gw.reload({ tls: clientTlsSection(parts.pki), databases: { appdb: plainUpstream(parts.upstream, 'appdb'), spare: plainUpstream(parts.upstream, 'appdb') } });
  admin = Admin.attach(parts.gw.gateway, { log: pino({ level: 'silent' }), processMetrics: false, http: false });
});

async function transactions(database: string, n: number): Promise<void> {
  const c = new pg.Client({ host: 'localhost', port: parts.gw.port, user: 'app', database, ssl: nodeSsl(parts.app) });
  await c.connect();
  try {
    for (let i = 0; i < n; i++) await c.query('SELECT 1');
  } finally {
    await c.end();
  }
}

test('a reload that removes a database after its transactions draws no negative point and no spike', async () => {
  await transactions('spare', 40);
  await transactions('appdb', 60);
  const trends = new Trends(() => admin.dashboard.counters());
  const t0 = Date.now();
  await trends.sample(t0);
  const before = (await admin.dashboard.counters()).transactions;
  assert.ok(before >= 100, `the transactions so far: ${before}`);

  await parts.gw.reload({ tls: clientTlsSection(parts.pki), databases: { appdb: plainUpstream(parts.upstream, 'appdb') } });
  // The janitor drops the removed database's pool once its last server closed.
  await waitFor(() => ![...parts.gw.gateway.pools.values()].some((pool) => pool.database === 'spare'), 'the pool of spare to go');
  await transactions('appdb', 5);
  assert.ok((await admin.dashboard.counters()).transactions >= before + 5, 'the sum did not fall');
  await trends.sample(t0 + 10_000);
  await transactions('appdb', 10);
  await trends.sample(t0 + 20_000);

  const tps = trends.view().series.tps;
  assert.equal(tps.length, 2);
  assert.ok(tps.every((x) => x >= 0), `no negative point: ${tps.join(',')}`);
  // 5 then 10 transactions in 10 s each (the old sum fell by spare's 40 and counted appdb's 65 again: 6.5).
  assert.deepEqual(tps, [0.5, 1]);
});
