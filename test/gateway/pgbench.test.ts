/**
 * pgbench through pgmoat as an independent libpq peer: initialised on the upstream directly,
 * then run through pgmoat with sslmode=verify-full and the client certificate given in PGSSL*
 * environment variables, in each query mode and with a new connection per transaction.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import type { PgServer } from '../harness/postgres.js';
import type { ClientFiles, Pki } from '../harness/cert-factory.js';
import type { RunningGateway } from '../harness/gateway.js';
import { pgTool } from '../harness/pg-binaries.js';
import { useAppGateway } from './helpers.js';

let upstream: PgServer;
let pki: Pki;
let gw: RunningGateway;
let app: ClientFiles;

useAppGateway({ database: { pool_size: 4 } }, async (parts) => {
  ({ pki, upstream, app, gw } = parts);
  // Initialised on the upstream directly, not through pgmoat.
  const init = await pgbench(['-i', '-s', '1', '-q', '-h', '127.0.0.1', '-p', String(upstream.port), '-U', 'app', 'appdb']);
  assert.equal(init.code, 0, init.stderr);
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function pgbench(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(pgTool('pgbench'), args, { encoding: 'utf8', timeout: 180_000, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

const THROUGH_PGMOAT = (): NodeJS.ProcessEnv => ({
  PGSSLMODE: 'verify-full',
  PGSSLCERT: app.certPath,
  PGSSLKEY: app.keyPath,
  PGSSLROOTCERT: app.caPath,
  PGCONNECT_TIMEOUT: '10',
});

function assertClean(r: Run, transactions: number): void {
  assert.equal(r.code, 0, `pgbench failed:\n${r.stderr}\n${r.stdout}`);
  assert.doesNotMatch(r.stderr, /error|FATAL|abort/i);
  assert.match(r.stdout, new RegExp(`number of transactions actually processed: ${transactions}/${transactions}`));
  const failed = /number of failed transactions: (\d+)/.exec(r.stdout);
  if (failed) assert.equal(failed[1], '0');
}

for (const mode of ['simple', 'extended', 'prepared']) {
  test(`pgbench -c 4 -t 50 -M ${mode} through pgmoat with verify-full: no errors`, async () => {
    const r = await pgbench(['-c', '4', '-t', '50', '-M', mode, '-h', '127.0.0.1', '-p', String(gw.port), '-U', 'app', 'appdb'], THROUGH_PGMOAT());
    assertClean(r, 200);
    const pool = gw.gateway.pools.get('appdb/app')!;
    assert.ok(pool.serverCount <= 4, `pool_size 4, ${pool.serverCount} server connections`);
  });
}

test('pgbench -C (a new TLS connection and login per transaction) through pgmoat: no errors', async () => {
  const r = await pgbench(['-C', '-c', '4', '-t', '25', '-h', '127.0.0.1', '-p', String(gw.port), '-U', 'app', 'appdb'], THROUGH_PGMOAT());
  assertClean(r, 100);
});

test('the work reached the upstream: pgbench_history holds every transaction of the last run', () => {
  // Without -n pgbench vacuums and truncates pgbench_history (through pgmoat) before each run;
  // the -C run's 100 transactions each inserted one row.
  assert.equal(upstream.sql('SELECT count(*) FROM pgbench_history', 'appdb'), '100');
});
