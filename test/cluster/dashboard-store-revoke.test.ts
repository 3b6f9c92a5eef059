/**
 * A revoke through the dashboard under `pgmoat serve --workers 2` where the workers' ONLY
 * revocation source is the CA's PostgreSQL store (`ca: {store, password_file}`; no tls.crl, so no
 * CRL file is watched): the CA directory keeps its inventory in the store (pgmoat ca migrate),
 * the revoke writes the row and its NOTIFY, and each worker's LISTEN connection brings it in. The
 * answer comes once every worker has the revocation in force: it counts the sessions both workers
 * ended, and every one of those sessions is over by then or within the boundary wait.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { makePki, type ClientFiles, type Pki } from '../harness/cert-factory.js';
import { cleanupDir, writeConfig } from '../harness/gateway.js';
import { freePort } from '../harness/free-port.js';
import { nodeSsl, plainUpstream, waitFor } from '../gateway/helpers.js';
import { call, type Answer, postAction } from '../admin/dashboard-helpers.js';
import { issueClient, openCa } from '../../src/ca/index.js';
import { migrateToStore } from '../../src/ca/migrate.js';
import { startCluster, type ClusterGateway } from './helpers.js';

const GATEWAY_ROLE = 'pgmoat_gw';

let upstream: PgServer;
let pki: Pki;
let ops: ClientFiles;
let dir: string;
let port: number;
let httpPort: number;
let gw: ClusterGateway;

/** A client certificate issued by the CA as it is now (its inventory in the store). */
async function issue(name: string): Promise<ClientFiles> {
  const ca = await openCa(pki.main.dir);
  const outDir = mkdtempSync(join(dir, `client-${name}-`));
  const c = await issueClient(ca, { name, environment: 'production', outDir, serverAuthOnly: false, allowDuplicate: true });
  return { name, environment: 'production', certPath: c.files!.cert, keyPath: c.files!.key!, caPath: pki.main.caPath, issuerCaPath: pki.main.caPath, certPem: c.certPem, keyPem: c.keyPem!, serial: c.serial };
}

before(async () => {
  pki = await makePki();
  upstream = await startPostgres({ setupSql: `CREATE ROLE app LOGIN; CREATE DATABASE appdb OWNER app; CREATE ROLE ${GATEWAY_ROLE} LOGIN; CREATE DATABASE pgmoat_store;` });
  dir = mkdtempSync(join(tmpdir(), 'pgmoat-dash-store-'));
  chmodSync(dir, 0o700);
  // The CA (the directory of tls.ca) moves its inventory into the store, as `pgmoat ca migrate` does.
  await migrateToStore(pki.main.dir, { version: 1, url: `postgres://${upstream.superuser}@${upstream.host}:${upstream.port}/pgmoat_store` });
  upstream.sql(`GRANT USAGE ON SCHEMA pgmoat TO ${GATEWAY_ROLE}; GRANT SELECT ON ALL TABLES IN SCHEMA pgmoat TO ${GATEWAY_ROLE};`, 'pgmoat_store');
  ops = await issue('ops');
  const passwordFile = join(dir, 'store-password');
  // The test server trusts loopback, so the password is never checked; the setting is what matters.
  writeFileSync(passwordFile, 'unused\n', { mode: 0o600 });
  port = await freePort();
  httpPort = await freePort();
  const configPath = writeConfig(dir, {
    listen: { host: '127.0.0.1', port },
    log: { level: 'info' },
    shutdown_timeout: '2s',
    pool_mode: 'transaction',
    // No crl: the store is the only revocation source.
    tls: { mode: 'verify-full', cert: pki.server.certPath, key: pki.server.keyPath, ca: pki.main.caPath },
    ca: { store: `postgres://${GATEWAY_ROLE}@${upstream.host}:${upstream.port}/pgmoat_store`, password_file: passwordFile },
    databases: { appdb: plainUpstream(upstream, 'appdb', { pool_size: 4 }) },
    admin: {
      identities: ['ops'],
      http: { host: '127.0.0.1', port: httpPort, tls: { cert: pki.server.certPath, key: pki.server.keyPath, ca: pki.main.caPath }, dashboard: { enabled: true } },
    },
  });
  gw = await startCluster(configPath, 2);
  await waitFor(() => new Set(gw.events('revocation_store_listening').map((l) => l.worker)).size === 2, 'both workers to LISTEN on the store', 20_000);
});

after(async () => {
  await gw?.stop('SIGKILL');
  await upstream?.stop();
  pki?.cleanup();
  if (dir) cleanupDir(dir);
});

const get = (path: string): Promise<Answer> => call(httpPort, pki.main.caPem, path, { client: ops });

const post = (path: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer> => postAction(httpPort, pki.main.caPem, ops, path, body, headers);

test('no CRL is watched: every revocation source of both workers is the store', async () => {
  const live = (await get('/dashboard/api/live')).json as { store?: { connected: boolean }; crl: { ageSeconds?: number }; problems?: string[] };
  assert.equal(live.problems, undefined);
  assert.equal(live.store?.connected, true);
  assert.equal(live.crl.ageSeconds, undefined, 'no CRL source');
  assert.equal(gw.events('crl_loaded').length, 0);
});

test('a revoke through the dashboard ends the sessions on both workers before it answers, and says how many', async () => {
  const victim = await issue('app');
  const bystander = await issue('app');
  const clients: { c: pg.Client; ended: Promise<void>; done: () => boolean }[] = [];
  const workersOf = (serial: string): Set<unknown> => new Set(gw.logs().filter((l) => l.event === 'login' && l.serial === serial).map((l) => l.worker));
  while (clients.length < 2 || workersOf(victim.serial).size < 2) {
    if (clients.length >= 10) throw new Error('the sessions never reached both workers');
    const c = new pg.Client({ host: '127.0.0.1', port, user: 'app', database: 'appdb', ssl: nodeSsl(victim) });
    let over = false;
    const ended = new Promise<void>((resolve) => c.on('error', () => resolve()).on('end', () => resolve())).then(() => void (over = true));
    await c.connect();
    await c.query('SELECT 1');
    clients.push({ c, ended, done: () => over });
    await waitFor(() => gw.logs().filter((l) => l.event === 'login' && l.serial === victim.serial).length >= clients.length, 'the login line');
  }
  const other = new pg.Client({ host: '127.0.0.1', port, user: 'app', database: 'appdb', ssl: nodeSsl(bystander) });
  other.on('error', () => undefined);
  await other.connect();

  const r = await post('/dashboard/api/actions/revoke', { serial: victim.serial, reason: 'keyCompromise' });
  assert.equal(r.status, 200, r.body);
  const answer = r.json as { revoked: string[]; sessionsEnded: number; problems?: string[] };
  assert.deepEqual(answer.revoked, [victim.serial]);
  assert.equal(answer.problems, undefined, r.body);
  // Both workers' sessions are counted: each had the store's revocation in force before the answer.
  assert.equal(answer.sessionsEnded, clients.length, r.body);
  await Promise.all(clients.map((x) => x.ended));
  // Through the store's NOTIFY on each worker: no CRL was read.
  const storeLines = gw.events('revocation_store_revoked').filter((l) => (l.serials as string[]).includes(victim.serial));
  assert.deepEqual(new Set(storeLines.map((l) => l.worker)), new Set([1, 2]));
  assert.equal(gw.events('revoked_session_ended').filter((l) => l.serial === victim.serial).length, clients.length);
  assert.equal((await other.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one, 1, 'another certificate of the same name lives on');
  await other.end();
  assert.ok(readFileSync(join(pki.main.dir, 'store.json'), 'utf8').includes('pgmoat_store'), 'the CA kept its inventory in the store');
});
