/**
 * `pgmoat quickstart` end to end: the real command in a child process, psql as the client,
 * PGlite (or a real PostgreSQL with --upstream) behind the gateway.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import pg from 'pg';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../harness/free-port.js';
import { conninfo, psql, type ClientCertFiles } from '../harness/psql.js';
import { startPostgres } from '../harness/postgres.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const READY = /pgmoat quickstart: ready on 127\.0\.0\.1:(\d+)/;

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startQuickstart(args: string[]): Run {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'quickstart', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (s: string) => (out += s));
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (err += s));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** Waits for the ready line (no time assertion: the child either says it or exits). */
async function ready(run: Run): Promise<void> {
  let exited = false;
  void run.exited.then(() => (exited = true));
  while (!READY.test(run.stdout())) {
    if (exited) assert.fail(`quickstart exited before it was ready:\n${run.stdout()}\n${run.stderr()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function stop(run: Run): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  run.child.kill('SIGINT');
  return run.exited;
}

function demoFiles(dir: string): ClientCertFiles {
  return { certPath: join(dir, 'clients', 'demo.crt'), keyPath: join(dir, 'clients', 'demo.key'), caPath: join(dir, 'clients', 'ca.crt') };
}

test('quickstart on PGlite: psql with the demo identity works, without it is refused, data survives a restart', { timeout: 240_000 }, async (t) => {
  const dir = join(mkdtempSync(join(tmpdir(), 'pgmoat-qs-')), 'qs');
  t.after(() => rmSync(join(dir, '..'), { recursive: true, force: true }));
  const port = await freePort();

  const first = startQuickstart(['--dir', dir, '--port', String(port)]);
  t.after(() => first.child.kill('SIGKILL'));
  await ready(first);
  const out = first.stdout();
  // The first run starts from the shipped data directory, not from initdb (the slow, heavy path).
  assert.match(out, /starting the embedded PostgreSQL \(PGlite\), data in \S+pgdata \(first run: unpacking a ready-made data directory/);
  assert.match(out, /psql 'host=127\.0\.0\.1 port=\d+ dbname=demo user=demo sslmode=verify-full sslcert=\S+demo\.crt sslkey=\S+demo\.key sslrootcert=\S+ca\.crt'/);
  assert.match(out, /import pg from 'pg';/);
  assert.match(out, /plain connection \(no TLS\)\s+-> refused: FATAL 28000: /);
  assert.match(out, /TLS without a client certificate -> refused: FATAL 28000: /);
  assert.equal(statSync(join(dir, 'clients', 'demo.key')).mode & 0o777, 0o600);

  const conn = conninfo(port, { user: 'demo', dbname: 'demo', cert: demoFiles(dir) });
  const one = await psql(conn, 'SELECT 1');
  assert.equal(one.code, 0, one.stderr);
  assert.equal(one.stdout, '1');
  const made = await psql(conn, "CREATE TABLE greeting (msg text); INSERT INTO greeting VALUES ('kept'); SELECT msg FROM greeting");
  assert.equal(made.code, 0, made.stderr);
  assert.equal(made.stdout, 'kept');

  // The node-postgres snippet's way, held open while psql runs: transaction pooling shares PGlite's one backend.
  const client = new pg.Client({
    host: '127.0.0.1',
    port,
    database: 'demo',
    user: 'demo',
    ssl: { ca: readFileSync(demoFiles(dir).caPath, 'utf8'), cert: readFileSync(demoFiles(dir).certPath, 'utf8'), key: readFileSync(demoFiles(dir).keyPath, 'utf8') },
  });
  await client.connect();
  try {
    assert.deepEqual((await client.query('SELECT msg FROM greeting')).rows, [{ msg: 'kept' }]);
    const meanwhile = await psql(conn, 'SELECT count(*) FROM greeting');
    assert.equal(meanwhile.code, 0, meanwhile.stderr);
    assert.equal(meanwhile.stdout, '1');
    assert.deepEqual((await client.query('SELECT $1::int + 1 AS n', [41])).rows, [{ n: 42 }]);
  } finally {
    await client.end();
  }

  const noCert = await psql(conninfo(port, { user: 'demo', dbname: 'demo', sslmode: 'require' }), 'SELECT 1');
  assert.notEqual(noCert.code, 0);
  assert.match(noCert.stderr, /client certificate/);
  const plain = await psql(conninfo(port, { user: 'demo', dbname: 'demo', sslmode: 'disable' }), 'SELECT 1');
  assert.notEqual(plain.code, 0);

  assert.deepEqual(await stop(first), { code: 0, signal: null });

  // Second run, same directory: the CA and identity are reused and the table is still there.
  const second = startQuickstart(['--dir', dir, '--port', String(port)]);
  t.after(() => second.child.kill('SIGKILL'));
  await ready(second);
  assert.match(second.stdout(), /reusing the CA/);
  const again = await psql(conn, 'SELECT msg FROM greeting');
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.stdout, 'kept');
  assert.deepEqual(await stop(second), { code: 0, signal: null });
});

test('quickstart refuses a busy port with a clear message', { timeout: 60_000 }, async (t) => {
  const dir = join(mkdtempSync(join(tmpdir(), 'pgmoat-qs-')), 'qs');
  t.after(() => rmSync(join(dir, '..'), { recursive: true, force: true }));
  const { createServer } = await import('node:net');
  const blocker = createServer();
  await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', r));
  t.after(() => blocker.close());
  const port = (blocker.address() as { port: number }).port;
  const run = startQuickstart(['--dir', dir, '--port', String(port)]);
  const { code } = await run.exited;
  assert.equal(code, 1);
  assert.match(run.stderr(), new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use.*--port`));
});

test('quickstart --upstream puts a real PostgreSQL behind the gateway, its password in a 0600 file', { timeout: 120_000 }, async (t) => {
  const pg = await startPostgres({
    hba: 'local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n',
    setupSql: "CREATE ROLE app LOGIN PASSWORD 's3cr@t'; CREATE DATABASE appdb OWNER app;",
  });
  t.after(() => pg.stop());
  const dir = join(mkdtempSync(join(tmpdir(), 'pgmoat-qs-')), 'qs');
  t.after(() => rmSync(join(dir, '..'), { recursive: true, force: true }));
  const port = await freePort();
  const run = startQuickstart(['--dir', dir, '--port', String(port), '--upstream', `postgres://app:s3cr%40t@127.0.0.1:${pg.port}/appdb`]);
  t.after(() => run.child.kill('SIGKILL'));
  await ready(run);
  assert.doesNotMatch(run.stdout() + run.stderr(), /s3cr/);
  assert.equal(statSync(join(dir, 'upstream.password')).mode & 0o777, 0o600);
  const r = await psql(conninfo(port, { user: 'demo', dbname: 'demo', cert: demoFiles(dir) }), 'SELECT current_user, current_database()');
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'app|appdb');
  assert.deepEqual(await stop(run), { code: 0, signal: null });
});
