/**
 * The proof that a conversion means what it says: an mTLS-guide pgbouncer.ini (auth_type = cert,
 * verify-full clients, verify-full upstream with a client certificate, one database with a
 * password in its line) converted, loaded by the real loader, and served by a real gateway in
 * front of a real PostgreSQL, reached with psql.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { makePki, type ClientFiles, type Pki } from '../harness/cert-factory.js';
import { startGateway, type RunningGateway } from '../harness/gateway.js';
import { conninfo, psql } from '../harness/psql.js';
import { importPgbouncer, type ImportResult } from '../../src/pgbouncer-import/import.js';

const REPORTER_PASSWORD = "r3p0rts p@ss'word";

let pg: PgServer;
let pki: Pki;
let gw: RunningGateway;
let dir: string;
let owner: ClientFiles;
let reporter: ClientFiles;
let result: ImportResult;

before(async () => {
  pki = await makePki();
  owner = await pki.client('app_owner');
  reporter = await pki.client('reporter');
  pg = await startPostgres({
    ssl: { cert: pki.server.certPem, key: pki.server.keyPem, ca: pki.main.caPem },
    hba: [
      'local all all trust',
      'hostssl all reporter 127.0.0.1/32 scram-sha-256',
      'hostssl all all 127.0.0.1/32 cert clientcert=verify-full',
    ].join('\n'),
    setupSql: `CREATE ROLE app_owner LOGIN; CREATE ROLE reporter LOGIN PASSWORD '${REPORTER_PASSWORD.replace(/'/g, "''")}'; CREATE DATABASE appdb OWNER app_owner;`,
  });
  dir = mkdtempSync(join(tmpdir(), 'pgmoat-pgb-e2e-'));
  const ini = join(dir, 'pgbouncer.ini');
  writeFileSync(
    ini,
    [
      '[databases]',
      `app = host=127.0.0.1 port=${pg.port} dbname=appdb user=app_owner pool_size=2`,
      `reports = host=127.0.0.1 port=${pg.port} dbname=appdb user=reporter password='${REPORTER_PASSWORD.replace(/'/g, "''")}'`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      'listen_port = 6432',
      'logfile = /var/log/pgbouncer/pgbouncer.log',
      'auth_type = cert',
      'client_tls_sslmode = verify-full',
      `client_tls_key_file = ${pki.server.keyPath}`,
      `client_tls_cert_file = ${pki.server.certPath}`,
      `client_tls_ca_file = ${pki.main.caPath}`,
      'server_tls_sslmode = verify-full',
      `server_tls_ca_file = ${pki.main.caPath}`,
      `server_tls_cert_file = ${owner.certPath}`,
      `server_tls_key_file = ${owner.keyPath}`,
      'pool_mode = transaction',
      '',
    ].join('\n'),
  );
  result = importPgbouncer(ini);
  assert.deepEqual(result.problems, []);
  assert.equal(result.blockerCount, 0, result.notes.join('\n'));
  process.env.PGMOAT_REPORTS_PASSWORD = REPORTER_PASSWORD;
  gw = await startGateway(parse(result.yaml) as Record<string, unknown>);
});

after(async () => {
  await gw?.stop();
  await pg?.stop();
  pki?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
  delete process.env.PGMOAT_REPORTS_PASSWORD;
});

test('the converted configuration serves: certificate login, TLS upstream with the client certificate', async () => {
  const r = await psql(
    conninfo(gw.port, { user: 'app_owner', dbname: 'app', cert: owner }),
    "SELECT current_user, current_database(), (SELECT ssl::text || ' ' || client_dn FROM pg_stat_ssl WHERE pid = pg_backend_pid())",
  );
  assert.equal(r.stderr, '');
  // The upstream session is TLS, authenticated by the certificate server_tls_cert_file named.
  assert.match(r.stdout, /^app_owner\|appdb\|true \/CN=app_owner\//);
});

test('the password from the database line reaches PostgreSQL through password_env', async () => {
  const r = await psql(conninfo(gw.port, { user: 'reporter', dbname: 'reports', cert: reporter }), 'SELECT current_user');
  assert.equal(r.stderr, '');
  assert.equal(r.stdout, 'reporter');
  assert.ok(!result.yaml.includes(REPORTER_PASSWORD));
});

test('auth_type = cert carried over: a certificate for another name is refused, as is no certificate', async () => {
  const wrong = await psql(conninfo(gw.port, { user: 'app_owner', dbname: 'app', cert: reporter }), 'SELECT 1');
  assert.notEqual(wrong.code, 0);
  assert.match(wrong.stderr, /FATAL/);
  const none = await psql(conninfo(gw.port, { user: 'app_owner', dbname: 'app', sslmode: 'require' }), 'SELECT 1');
  assert.notEqual(none.code, 0);
});
