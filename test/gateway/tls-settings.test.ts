/**
 * Client-side TLS settings: a CA bundle of several CAs, TLS version bounds and the TLS 1.2
 * cipher list, observed from a real client's handshake.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { makePki, type ClientFiles, type Pki } from '../harness/cert-factory.js';
import { startGateway, type RunningGateway } from '../harness/gateway.js';
import { clientTlsSection, nodeSsl, plainUpstream } from './helpers.js';
import { login, openTls } from './raw-wire.js';

let upstream: PgServer;
let pki: Pki;
let app: ClientFiles;
let foreignApp: ClientFiles;
const gateways: RunningGateway[] = [];

before(async () => {
  pki = await makePki();
  upstream = await startPostgres({ setupSql: 'CREATE ROLE app LOGIN; CREATE DATABASE appdb OWNER app;' });
  app = await pki.client('app');
  foreignApp = await pki.client('app', { ca: 'foreign' });
});
after(async () => {
  for (const g of gateways) await g.stop();
  await upstream?.stop();
  pki?.cleanup();
});

async function gateway(tls: Record<string, unknown>): Promise<RunningGateway> {
  const g = await startGateway({ tls: { ...clientTlsSection(pki), ...tls }, databases: { appdb: plainUpstream(upstream, 'appdb', { pool_size: 1 }) } });
  gateways.push(g);
  return g;
}

async function currentUser(port: number, c: ClientFiles): Promise<string> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'app', database: 'appdb', ssl: nodeSsl(c) });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return (await client.query<{ u: string }>('SELECT current_user AS u')).rows[0]!.u;
  } finally {
    await client.end();
  }
}

test('a CA bundle of two CAs: clients of either are accepted', async () => {
  const bundle = join(pki.dir, 'bundle.crt');
  writeFileSync(bundle, readFileSync(pki.main.caPath, 'utf8') + '\n' + readFileSync(pki.foreign.caPath, 'utf8'));
  const g = await gateway({ ca: bundle });
  assert.equal(await currentUser(g.port, app), 'app');
  assert.equal(await currentUser(g.port, foreignApp), 'app');
});

test('min_version TLSv1.3: a TLS 1.2 client is refused in the handshake, a TLS 1.3 one gets in', async () => {
  const g = await gateway({ min_version: 'TLSv1.3' });
  await assert.rejects(openTls(g.port, { cert: app, maxVersion: 'TLSv1.2' }));
  const conn = await openTls(g.port, { cert: app });
  assert.equal(conn.tls!.getProtocol(), 'TLSv1.3');
  conn.destroy();
  assert.equal(await currentUser(g.port, app), 'app');
});

test('max_version TLSv1.2 with a cipher list: the handshake uses that version and cipher', async () => {
  const g = await gateway({ max_version: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES256-GCM-SHA384' });
  const conn = await openTls(g.port, { cert: app });
  assert.equal(conn.tls!.getProtocol(), 'TLSv1.2');
  assert.equal(conn.tls!.getCipher().name, 'ECDHE-ECDSA-AES256-GCM-SHA384');
  const m = await login(conn, { user: 'app', database: 'appdb' });
  assert.ok(m.some((x) => x.type === 'Z'));
  conn.destroy();
});
