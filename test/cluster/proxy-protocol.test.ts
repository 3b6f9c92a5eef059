/**
 * listen.proxy_protocol under `serve --workers 2`: with the primary handing sockets over (it reads
 * no byte, the worker reads the header) and with reuse_port (each worker accepts itself). Clients
 * behind a "balancer" (hand-made PROXY v1/v2 headers from 127.0.0.1) log in on both workers with
 * the header's address in their audit lines; an untrusted peer's header is refused by a worker.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { makePki, type ClientFiles, type Pki } from '../harness/cert-factory.js';
import { cleanupDir, writeConfig } from '../harness/gateway.js';
import { freePort } from '../harness/free-port.js';
import { clientTlsSection, nodeSsl, plainUpstream, waitFor } from '../gateway/helpers.js';
import { RawConn, SSL_REQUEST, login } from '../gateway/raw-wire.js';
import { openRaw, v1, v2 } from '../gateway/proxy-wire.js';
import { startCluster } from './helpers.js';

let upstream: PgServer;
let pki: Pki;
let app: ClientFiles;
let dir: string;

before(async () => {
  pki = await makePki();
  upstream = await startPostgres({ setupSql: 'CREATE ROLE app LOGIN; CREATE DATABASE appdb OWNER app;' });
  app = await pki.client('app');
  dir = mkdtempSync(join(tmpdir(), 'pgmoat-cluster-proxy-'));
  chmodSync(dir, 0o700);
});

after(async () => {
  await upstream?.stop();
  pki?.cleanup();
  if (dir) cleanupDir(dir);
});

async function loginThrough(port: number, header: Buffer): Promise<RawConn> {
  const raw = await openRaw(port);
  raw.write(Buffer.concat([header, SSL_REQUEST]));
  const answer = await new Promise<Buffer>((resolve, reject) => {
    raw.once('data', resolve);
    raw.once('error', reject);
    raw.once('close', () => reject(new Error('closed before answering the SSLRequest')));
  });
  assert.equal(answer.toString('hex'), '53');
  const s = tlsConnect({ socket: raw, servername: 'localhost', ...nodeSsl(app) });
  const conn = new RawConn(s);
  await new Promise<void>((resolve, reject) => {
    s.once('secureConnect', resolve);
    s.once('error', reject);
  });
  const m = await login(conn, { user: 'app', database: 'appdb' });
  assert.ok(m.some((x) => x.type === 'Z'), `login: ${m.map((x) => x.type).join('')}`);
  return conn;
}

for (const reusePort of [false, true]) {
  test(`serve --workers 2${reusePort ? ' with reuse_port' : ' (the primary hands sockets over)'}: each worker reads the header`, async () => {
    const port = await freePort();
    const configPath = writeConfig(dir, {
      listen: { host: '127.0.0.1', port, reuse_port: reusePort, proxy_protocol: { trusted: ['127.0.0.1'] } },
      shutdown_timeout: '2s',
      tls: clientTlsSection(pki),
      databases: { appdb: plainUpstream(upstream, 'appdb', { pool_size: 4 }) },
    });
    const gw = await startCluster(configPath, 2);
    try {
      const conns: RawConn[] = [];
      const sources: string[] = [];
      // Sessions stay open so that the kernel's hash (reuse_port) or the round robin spreads them.
      for (let i = 1; i <= 8; i++) {
        const src = `192.0.2.${100 + i}`;
        sources.push(src);
        conns.push(await loginThrough(port, i % 2 === 0 ? v1(src, 40000 + i) : v2({ src, sport: 40000 + i })));
      }
      await waitFor(() => gw.events('login').length >= 8, 'eight login lines');
      const logins = gw.events('login');
      assert.deepEqual(logins.map((l) => l.remote).sort(), [...sources].sort());
      assert.ok(logins.every((l) => l.via === '127.0.0.1'));
      const workers = new Set(logins.map((l) => l.worker));
      if (!reusePort) assert.equal(workers.size, 2, 'round robin: both workers got sessions');
      // The kernel's hash may put all eight on one worker; whichever did read their headers.
      for (const c of conns) c.destroy();

      const refused = new RawConn(await openRaw(port, '127.0.0.5'));
      refused.socket.write(v1('192.0.2.7'));
      assert.equal(await refused.waitClosed(), true);
      assert.equal(refused.received.length, 0);
      await waitFor(() => gw.events('proxy_refused').length === 1, 'a proxy_refused line from a worker');
      assert.equal(gw.events('proxy_refused')[0]!.remote, '127.0.0.5');
    } finally {
      await gw.stop('SIGTERM');
    }
  });
}
