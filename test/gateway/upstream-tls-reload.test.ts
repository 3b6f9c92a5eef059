/**
 * Reload on change, upstream side: a database's `tls.cert`, `tls.key` and `tls.ca` rewritten
 * while the gateway runs are used by the server connections opened after, without a SIGHUP;
 * server connections already open keep theirs. PostgreSQL requires `cert clientcert=verify-full`
 * and reports the client certificate's serial in pg_stat_ssl, which says which pair pgmoat used.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { makePki, type ClientFiles, type Pki } from '../harness/cert-factory.js';
import { startGateway, type RunningGateway } from '../harness/gateway.js';
import { clientTlsSection, logEvents, nodeSsl, waitFor } from './helpers.js';

let upstream: PgServer;
let pki: Pki;
let gw: RunningGateway;
let app: ClientFiles;
let first: ClientFiles;
let dir: string;

const path = (name: string): string => join(dir, name);

before(async () => {
  pki = await makePki();
  app = await pki.client('app');
  first = await pki.client('pgmoat_up');
  dir = mkdtempSync(join(tmpdir(), 'pgmoat-upstream-reload-'));
  chmodSync(dir, 0o700);
  for (const set of ['a', 'b']) {
    writeFileSync(path(`${set}.crt`), first.certPem);
    writeFileSync(path(`${set}.key`), first.keyPem, { mode: 0o600 });
  }
  writeFileSync(path('a-ca.crt'), pki.main.caPem);
  // Set b starts with a CA that did not sign the upstream's certificate.
  writeFileSync(path('b-ca.crt'), pki.foreign.caPem);
  upstream = await startPostgres({
    ssl: { cert: pki.server.certPem, key: pki.server.keyPem, ca: pki.main.caPem },
    hba: ['local all all trust', 'hostssl all pgmoat_up 127.0.0.1/32 cert clientcert=verify-full', 'host all postgres 127.0.0.1/32 trust', ''].join('\n'),
    setupSql: 'CREATE DATABASE appdb; CREATE ROLE pgmoat_up LOGIN;',
  });
  const base = { host: '127.0.0.1', port: upstream.port, dbname: 'appdb', environment: 'production', user: 'pgmoat_up' };
  gw = await startGateway({
    tls: clientTlsSection(pki),
    server_connect_timeout: '5s',
    server_login_retry: '200ms',
    databases: {
      a: { ...base, tls: { mode: 'verify-full', ca: path('a-ca.crt'), cert: path('a.crt'), key: path('a.key') } },
      b: { ...base, tls: { mode: 'verify-full', ca: path('b-ca.crt'), cert: path('b.crt'), key: path('b.key') } },
    },
  });
});

after(async () => {
  await gw?.stop();
  await upstream?.stop();
  pki?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function open(database: string): Promise<pg.Client> {
  const c = new pg.Client({ host: '127.0.0.1', port: gw.port, user: 'app', database, ssl: nodeSsl(app), connectionTimeoutMillis: 15_000 });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

/** The serial (decimal, as pg_stat_ssl shows it) of the certificate pgmoat presented for this server connection. */
async function upstreamSerial(c: pg.Client): Promise<string> {
  const r = await c.query<{ serial: string }>('SELECT client_serial::text AS serial FROM pg_stat_ssl WHERE pid = pg_backend_pid()');
  return r.rows[0]!.serial;
}

const decimal = (hex: string): string => BigInt(`0x${hex}`).toString();

test('a new upstream cert and key (key written first) are used by new server connections; the open one keeps its own', async () => {
  const held = await open('a');
  try {
    assert.equal(await upstreamSerial(held), decimal(first.serial));
    const second = await pki.client('pgmoat_up');
    writeFileSync(path('a.key'), second.keyPem);
    writeFileSync(path('a.crt'), second.certPem);
    await waitFor(() => logEvents(gw, 'tls_files_reloaded').some((l) => l.what === 'databases.a.tls' && l.serial === second.serial), 'the new upstream pair to be loaded');
    // Session pooling: `held` keeps its server connection, so this client gets a new one.
    const fresh = await open('a');
    try {
      assert.equal(await upstreamSerial(fresh), decimal(second.serial), 'the new server connection presents the new certificate');
    } finally {
      await fresh.end();
    }
    assert.equal(await upstreamSerial(held), decimal(first.serial), 'the live session is untouched');
  } finally {
    await held.end();
  }
});

test('a new upstream CA bundle: a database whose CA did not verify the upstream connects once the bundle is replaced', async () => {
  await assert.rejects(open('b'), (err: Error & { code?: string }) => err.code === '08001');
  writeFileSync(path('b-ca.crt'), pki.main.caPem);
  await waitFor(
    async () => {
      const c = await open('b').catch(() => undefined);
      if (!c) return false;
      await c.end();
      return true;
    },
    'a login through database b',
    20_000,
  );
  const line = logEvents(gw, 'tls_files_reloaded').find((l) => l.what === 'databases.b.tls');
  assert.deepEqual(line?.changed, ['ca']);
});
