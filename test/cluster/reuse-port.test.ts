/**
 * `listen.reuse_port` under `serve --workers 2`: each worker holds a listening socket of its own
 * on the port and the primary holds none (so it hands no connection over), sessions land on both
 * workers and work, a replaced worker listens again, and a second gateway with the same setting cannot share the port by mistake.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, chmodSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { makePki, type ClientFiles, type Pki } from '../harness/cert-factory.js';
import { cleanupDir, writeConfig } from '../harness/gateway.js';
import { freePort } from '../harness/free-port.js';
import { clientTlsSection, nodeSsl, plainUpstream, waitFor } from '../gateway/helpers.js';
import { alive, childPids, runServe, startCluster, type ClusterGateway } from './helpers.js';

let upstream: PgServer;
let pki: Pki;
let app: ClientFiles;
let dir: string;
let port: number;
let configPath: string;
let gw: ClusterGateway;

before(async () => {
  pki = await makePki();
  upstream = await startPostgres({ setupSql: 'CREATE ROLE app LOGIN; CREATE DATABASE appdb OWNER app;' });
  app = await pki.client('app');
  dir = mkdtempSync(join(tmpdir(), 'pgmoat-cluster-reuse-'));
  chmodSync(dir, 0o700);
  port = await freePort();
  configPath = writeConfig(dir, {
    listen: { host: '127.0.0.1', port, reuse_port: true },
    shutdown_timeout: '2s',
    pool_mode: 'transaction',
    tls: clientTlsSection(pki),
    databases: { appdb: plainUpstream(upstream, 'appdb', { pool_size: 4 }) },
  });
  gw = await startCluster(configPath, 2);
});

after(async () => {
  await gw?.stop('SIGKILL');
  await upstream?.stop();
  pki?.cleanup();
  if (dir) cleanupDir(dir);
});

/** Inodes of the IPv4 sockets listening on `p` (state 0A in /proc/net/tcp). */
function listeningInodes(p: number): Set<string> {
  const hexPort = p.toString(16).toUpperCase().padStart(4, '0');
  const out = new Set<string>();
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length > 9 && f[1]!.endsWith(`:${hexPort}`) && f[3] === '0A') out.add(f[9]!);
  }
  return out;
}

/** Socket inodes among a process's open files. */
function socketInodes(pid: number): Set<string> {
  const out = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) out.add(m[1]!);
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

test('each worker listens on the port itself; the primary holds no listener', () => {
  const listening = listeningInodes(port);
  assert.equal(listening.size, 2, 'one listening socket per worker');
  const primary = socketInodes(gw.proc.pid!);
  assert.equal([...listening].filter((i) => primary.has(i)).length, 0, 'the primary holds none of them');
  const workers = childPids(gw.proc.pid!);
  assert.equal(workers.length, 2);
  for (const w of workers) assert.equal([...listening].filter((i) => socketInodes(w).has(i)).length, 1, `worker ${w} holds one`);
  assert.equal(gw.events('cluster_started')[0]?.reuse_port, true);
});

test('sessions land on both workers and are served', async () => {
  const seen = (): Set<unknown> => new Set(gw.events('login').map((l) => l.worker));
  // The kernel picks by a hash of the client's port: connect until both have had one.
  for (let i = 0; i < 40 && seen().size < 2; i++) {
    const c = new pg.Client({ host: '127.0.0.1', port, user: 'app', database: 'appdb', ssl: nodeSsl(app) });
    await c.connect();
    assert.equal((await c.query<{ n: number }>(`SELECT ${i} AS n`)).rows[0]!.n, i);
    await c.end();
    await waitFor(() => gw.events('login').length > i, 'the login line');
  }
  assert.deepEqual([...seen()].sort(), [1, 2]);
});

test('a worker killed with SIGKILL is replaced, and the replacement listens on the port beside the other', async () => {
  const before = childPids(gw.proc.pid!);
  const from = gw.logs().length;
  process.kill(before[0]!, 'SIGKILL');
  await waitFor(() => gw.logs().slice(from).some((l) => l.event === 'listening' && l.reuse_port === true), 'a replacement worker to listen', 20_000);
  const after = childPids(gw.proc.pid!);
  assert.equal(after.length, 2);
  assert.ok(!after.includes(before[0]!));
  await waitFor(() => listeningInodes(port).size === 2, 'two listening sockets again');
  for (let i = 0; i < 6; i++) {
    const c = new pg.Client({ host: '127.0.0.1', port, user: 'app', database: 'appdb', ssl: nodeSsl(app) });
    await c.connect();
    assert.equal((await c.query<{ n: number }>(`SELECT ${i} AS n`)).rows[0]!.n, i);
    await c.end();
  }
});

test('a second gateway with reuse_port on the same port refuses to start (exit 1, no worker left)', async () => {
  const proc = runServe(['--config', configPath, '--workers', '2']);
  let stderr = '';
  const pids = new Set<number>();
  const poll = setInterval(() => childPids(proc.pid!).forEach((p) => pids.add(p)), 20);
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  // Without the primary's check it would start and share the port: give up on it after a while.
  const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
  const code = await new Promise<number | null>((resolve) => proc.once('exit', resolve));
  clearTimeout(timer);
  clearInterval(poll);
  assert.equal(code, 1, stderr);
  assert.match(stderr, /^pgmoat: the gateway: port \d+ on 127\.0\.0\.1 is already in use .*listen\.port/m);
  assert.equal(pids.size, 0, 'no worker forked');
  assert.ok([...pids].every((p) => !alive(p)));
  assert.equal(listeningInodes(port).size, 2, 'the first gateway still listens');
});
