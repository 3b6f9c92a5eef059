/**
 * Nothing is kept per reload or per refused connection: after N reloads that rebuild the runtime
 * configuration (and the client TLS context) and N refusals of each kind (foreign CA, no
 * certificate, revoked, garbage before TLS, plaintext after the SSLRequest, a client that leaves
 * mid-handshake), the live objects of the kinds these create are back to what they were. Counted
 * in a heap snapshot after forced GCs; waited for with a deadline (refused sockets are destroyed
 * up to a second after their FATAL), never timed.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { connect as netConnect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { makePki, type Pki, type ClientFiles } from '../harness/cert-factory.js';
import { startGateway, type RunningGateway } from '../harness/gateway.js';
import { clientTlsSection, nodeSsl, plainUpstream } from '../gateway/helpers.js';
import { countOf, heapCounts, type HeapCount } from '../harness/heap.js';
import { SSL_REQUEST, startupPacket } from '../gateway/raw-wire.js';

const N = Number(process.env.RETENTION_ROUNDS ?? 40);
/** What a reload or a refused connection creates in the gateway. */
const WATCHED = [
  'object:IncomingConnection',
  'object:TLSSocket',
  'object:Socket',
  'object:SecureContext',
  'object:Server',
  'object:ClientSession',
  'object:ServerConnection',
  'object:CrlWatcher',
  'object:AbortController',
  'object:Timeout',
];
/** Allowed difference per kind: far below N, so that one object kept per event shows. */
const SLACK = 3;

let upstream: PgServer;
let pki: Pki;
let gw: RunningGateway;
let app: ClientFiles;
let foreign: ClientFiles;
let revoked: ClientFiles;
let poolSize = 4;

function config(): Record<string, unknown> {
  return { pool_mode: 'transaction', default_pool_size: poolSize, tls: clientTlsSection(pki), databases: { appdb: plainUpstream(upstream, 'appdb') } };
}

before(async () => {
  pki = await makePki();
  upstream = await startPostgres({ setupSql: 'CREATE ROLE app LOGIN; CREATE DATABASE appdb OWNER app;' });
  app = await pki.client('app');
  foreign = await pki.client('app', { ca: 'foreign' });
  revoked = await pki.client('app', { revoked: true });
  gw = await startGateway(config());
});
after(async () => {
  await gw?.stop();
  await upstream?.stop();
  pki?.cleanup();
});

async function refusedLogin(c: ClientFiles | undefined): Promise<void> {
  const ssl = c ? { ...nodeSsl(c), servername: 'localhost' } : { ca: pki.main.caPem, servername: 'localhost' };
  const client = new pg.Client({ host: '127.0.0.1', port: gw.port, user: 'app', database: 'appdb', ssl });
  client.on('error', () => undefined);
  const ok = await client.connect().then(
    () => true,
    () => false,
  );
  await client.end().catch(() => undefined);
  assert.equal(ok, false, 'the login was refused');
}

function raw(first: Buffer, thenClose: boolean): Promise<void> {
  return new Promise((resolve) => {
    const s = netConnect({ host: '127.0.0.1', port: gw.port });
    s.on('error', () => undefined);
    s.on('close', () => resolve());
    s.resume(); // read the FATAL and the end, or the socket never sees the close
    s.on('connect', () => {
      s.write(first);
      if (thenClose) s.once('data', () => s.destroy());
    });
  });
}

async function oneOfEach(): Promise<void> {
  poolSize = poolSize === 4 ? 5 : 4;
  await gw.reload(config());
  await refusedLogin(foreign);
  await refusedLogin(undefined);
  await refusedLogin(revoked);
  await raw(Buffer.from('GET / HTTP/1.1\r\nHost: pgmoat\r\n\r\n'), false);
  await raw(Buffer.concat([SSL_REQUEST, startupPacket({ user: 'app', database: 'appdb' })]), false);
  await raw(SSL_REQUEST, true);
}

function grown(before: Map<string, HeapCount>, now: Map<string, HeapCount>): string[] {
  return WATCHED.filter((k) => countOf(now, k) - countOf(before, k) > SLACK).map((k) => `${k}: ${countOf(before, k)} -> ${countOf(now, k)}`);
}

test(`${N} reloads and ${N} refused connections of each kind leave no object behind`, { timeout: 180_000 }, async () => {
  // One round first: modules, lazily built constants and the pool's first server exist before the count.
  await oneOfEach();
  const s = new pg.Client({ host: '127.0.0.1', port: gw.port, user: 'app', database: 'appdb', ssl: { ...nodeSsl(app), servername: 'localhost' } });
  await s.connect();
  await s.query('select 1');
  await s.end();
  await sleep(1500);
  const before = await heapCounts();

  for (let i = 0; i < N; i++) await oneOfEach();

  let now = await heapCounts();
  const deadline = Date.now() + 30_000;
  while (grown(before, now).length > 0 && Date.now() < deadline) {
    await sleep(500);
    now = await heapCounts();
  }
  assert.deepEqual(grown(before, now), [], `objects kept after ${N} rounds`);
});
