import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { makePki, type Pki } from '../harness/cert-factory.js';
import { startGateway, type RunningGateway } from '../harness/gateway.js';
import { conninfo, psql } from '../harness/psql.js';

let pg: PgServer;
let pki: Pki;
let gw: RunningGateway;

before(async () => {
  pki = await makePki();
  pg = await startPostgres({ setupSql: 'CREATE ROLE app LOGIN; CREATE DATABASE appdb OWNER app;' });
  gw = await startGateway({
    tls: { mode: 'verify-full', cert: pki.server.certPath, key: pki.server.keyPath, ca: pki.main.caPath, crl: pki.crlPath },
    databases: { appdb: { host: '127.0.0.1', port: pg.port, dbname: 'appdb', environment: 'production', pool_size: 2, tls: { mode: 'disable' } } },
  });
});
after(async () => {
  await gw?.stop();
  await pg?.stop();
  pki?.cleanup();
});

test('psql with verify-full and an issued identity reaches PostgreSQL through pgmoat', async () => {
  const c = await pki.client('app');
  const r = await psql(conninfo(gw.port, { user: 'app', dbname: 'appdb', cert: c }), 'SELECT current_user, current_database()');
  assert.equal(r.stderr, '');
  assert.equal(r.stdout, 'app|appdb');
});
