/**
 * `pgmoat serve --workers` from the outside: bad values are one usage line, SHUTDOWN in the
 * admin console of any worker stops the whole gateway, and a gateway whose workers cannot start
 * (the port is taken) exits non-zero without leaving a worker behind.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:net';
import pg from 'pg';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { makePki, type ClientFiles, type Pki } from '../harness/cert-factory.js';
import { cleanupDir, writeConfig } from '../harness/gateway.js';
import { freePort } from '../harness/free-port.js';
import { psql } from '../harness/psql.js';
import { clientTlsSection, nodeSsl, plainUpstream, waitFor } from '../gateway/helpers.js';
import { adminConn } from '../admin/helpers.js';
import { alive, childPids, runServe, startCluster } from './helpers.js';

let upstream: PgServer;
let pki: Pki;
let app: ClientFiles;
let ops: ClientFiles;
let dir: string;

before(async () => {
  pki = await makePki();
  upstream = await startPostgres({ setupSql: 'CREATE ROLE app LOGIN; CREATE DATABASE appdb OWNER app;' });
  app = await pki.client('app');
  ops = await pki.client('ops');
  dir = mkdtempSync(join(tmpdir(), 'pgmoat-cluster-life-'));
  chmodSync(dir, 0o700);
});

after(async () => {
  await upstream?.stop();
  pki?.cleanup();
  if (dir) cleanupDir(dir);
});

function configFor(port: number): string {
  return writeConfig(dir, {
    listen: { host: '127.0.0.1', port },
    shutdown_timeout: '2s',
    tls: clientTlsSection(pki),
    databases: { appdb: plainUpstream(upstream, 'appdb', { pool_size: 2 }) },
    admin: { identities: ['ops'] },
  });
}

function exited(args: string[]): Promise<{ code: number | null; stderr: string; pids: number[] }> {
  const proc = runServe(args);
  let stderr = '';
  const pids = new Set<number>();
  const poll = setInterval(() => childPids(proc.pid!).forEach((p) => pids.add(p)), 20);
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolve) =>
    proc.once('exit', (code) => {
      clearInterval(poll);
      resolve({ code, stderr, pids: [...pids] });
    }),
  );
}

for (const bad of ['0', 'two', '-1', '1.5', '100000']) {
  test(`--workers ${bad} is refused with one line and exit code 2`, async () => {
    const r = await exited(['--config', '/nonexistent.yaml', '--workers', bad]);
    assert.equal(r.code, 2);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /--workers .*expected a whole number from 1 to 256, or auto/);
  });
}

test('SHUTDOWN in the admin console stops every worker and the primary (exit 0)', async () => {
  const port = await freePort();
  const gw = await startCluster(configFor(port), 2);
  const pids = gw.workerPids();
  assert.equal(pids.length, 2);
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'app', database: 'appdb', ssl: nodeSsl(app) });
  await client.connect();
  client.on('error', () => undefined);
  const code = new Promise<number | null>((resolve) => gw.proc.once('exit', resolve));
  const r = await psql(adminConn(port, ops), 'SHUTDOWN');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await code, 0, gw.output().slice(-2000));
  await waitFor(() => pids.every((p) => !alive(p)), 'the workers to be gone');
  assert.equal(gw.events('shutdown').filter((l) => l.role === 'primary' && l.signal === 'SHUTDOWN').length, 1);
  await client.end().catch(() => undefined);
});

test('workers that cannot listen (port taken): the gateway exits 1 and leaves no worker', async () => {
  const taken: Server = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  const port = (taken.address() as { port: number }).port;
  try {
    const r = await exited(['--config', configFor(port), '--workers', '2']);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^pgmoat: the gateway: port \d+ on 127\.0\.0\.1 is already in use .*listen\.port/m);
    assert.ok(r.pids.every((p) => !alive(p)), 'no worker left');
  } finally {
    taken.close();
  }
});

test('--workers 1 is the single process: no primary, no worker field in the log', async () => {
  const port = await freePort();
  const proc = runServe(['--config', configFor(port), '--workers', '1']);
  let out = '';
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  try {
    await waitFor(() => out.includes('"event":"listening"'), 'pgmoat to listen', 20_000);
    assert.deepEqual(childPids(proc.pid!), []);
    assert.doesNotMatch(out, /"worker":|"role":"primary"/);
  } finally {
    const code = new Promise((resolve) => proc.once('exit', resolve));
    proc.kill('SIGTERM');
    assert.equal(await code, 0);
  }
});
