/**
 * tls.end_sessions_on_expiry: a session whose certificate expires while it is connected gets a
 * WARNING notice tls.expiry_warning before, and FATAL 28000 at expiry.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import pg from 'pg';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { makePki, type Pki } from '../harness/cert-factory.js';
import { startGateway, type RunningGateway } from '../harness/gateway.js';
import { issueClient } from '../../src/ca/index.js';
import { assertNoSecrets, events, pgConfig, secretsOf, tlsSection, upstreamDb, waitFor } from './helpers.js';

let upstream: PgServer;
let pki: Pki;
let gw: RunningGateway;

before(async () => {
  pki = await makePki();
  upstream = await startPostgres({ setupSql: 'CREATE ROLE app LOGIN; CREATE DATABASE appdb OWNER app;' });
  gw = await startGateway({ tls: tlsSection(pki, { end_sessions_on_expiry: true, expiry_warning: '5s' }), databases: { appdb: upstreamDb(upstream, 'appdb') } });
});
after(async () => {
  await gw?.stop();
  await upstream?.stop();
  pki?.cleanup();
});

test('a session outliving its certificate is warned, then ended with FATAL 28000', { timeout: 60_000 }, async () => {
  const now = Date.now();
  const issued = await issueClient(pki.main.authority, {
    name: 'app',
    environment: 'production',
    outDir: join(pki.dir, 'short-lived'),
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 8_000),
    allowDuplicate: true,
  });
  const cert = { name: 'app', environment: 'production', certPath: issued.files!.cert, keyPath: issued.files!.key!, caPath: pki.main.caPath, issuerCaPath: pki.main.caPath, certPem: issued.certPem, keyPem: issued.keyPem!, serial: issued.serial };
  const client = new pg.Client(pgConfig(gw.port, { user: 'app', database: 'appdb', cert }));
  const notices: { message?: string | undefined; severity?: string | undefined; code?: string | undefined }[] = [];
  let failure: { code?: string; message: string; severity?: string } | undefined;
  client.on('notice', (n) => notices.push(n));
  client.on('error', (e: Error & { code?: string; severity?: string }) => (failure ??= e));
  await client.connect();
  await waitFor(() => notices.length > 0, 'the expiry warning', 15_000);
  assert.equal(notices[0]!.severity, 'WARNING');
  assert.equal(notices[0]!.code, '01000');
  assert.match(notices[0]!.message ?? '', /^client certificate expires at \d{4}-\d\d-\d\dT[\d:.]+Z; this session will be ended then$/);
  // Still usable between the warning and the expiry.
  assert.equal((await client.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one, 1);
  await waitFor(() => failure !== undefined, 'the session to be ended at expiry', 20_000);
  assert.equal(failure!.code, '28000', failure!.message);
  assert.equal(failure!.severity, 'FATAL');
  assert.equal(failure!.message, 'client certificate has expired');
  // The certificate carries whole seconds.
  assert.ok(Date.now() >= Math.floor(new Date(issued.entry.notAfter).getTime() / 1000) * 1000, 'not ended before notAfter');
  await client.end().catch(() => undefined);
  await waitFor(() => events(gw, 'session_end').some((l) => l.reason === 'certificate expired'), 'the session_end line');
  assertNoSecrets(gw.logs(), secretsOf(pki, [cert], []));
});
