/**
 * Revocations LISTENed for from the CA's PostgreSQL store (`ca.store`): a revoked row and its
 * NOTIFY end the certificate's live session and refuse new ones; a NOTIFY that names a serial the
 * table does not list as revoked changes nothing; a revocation committed while the LISTEN
 * connection is gone is enforced once it is back (the whole list is read after every LISTEN);
 * while the store is unreachable the list read last stays enforced, the metrics say so and a
 * warn line says how old it is.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { makePki, type ClientFiles, type Pki } from '../harness/cert-factory.js';
import { startGateway, type RunningGateway } from '../harness/gateway.js';
import { applyStoreSchema, REVOCATION_CHANNEL } from '../../src/ca/store-schema.js';
import { assertLoggedIn, assertRefused, events, pgConfig, pgLogin, tlsSection, upstreamDb, waitFor } from './helpers.js';

let upstream: PgServer;
let pki: Pki;
let gw: RunningGateway;
let storeUrl: string;

const GATEWAY_ROLE = 'pgmoat_gw';
/** In the URL (the test server trusts loopback, so it is never checked): it must appear in no log line. */
const STORE_PASSWORD = 'Xq7storepw';

before(async () => {
  pki = await makePki();
  upstream = await startPostgres({
    setupSql: `CREATE ROLE app LOGIN; CREATE DATABASE appdb OWNER app; CREATE ROLE ${GATEWAY_ROLE} LOGIN; CREATE DATABASE pgmoat_store;`,
  });
  const admin = new pg.Client({ host: upstream.host, port: upstream.port, user: upstream.superuser, database: 'pgmoat_store' });
  await admin.connect();
  await applyStoreSchema(admin, 'test store');
  await admin.query(`GRANT USAGE ON SCHEMA pgmoat TO ${GATEWAY_ROLE}; GRANT SELECT ON ALL TABLES IN SCHEMA pgmoat TO ${GATEWAY_ROLE}`);
  await admin.end();
  storeUrl = `postgres://${GATEWAY_ROLE}:${STORE_PASSWORD}@${upstream.host}:${upstream.port}/pgmoat_store`;
  gw = await startGateway({ tls: tlsSection(pki), ca: { store: storeUrl }, databases: { appdb: upstreamDb(upstream, 'appdb', { pool_size: 10 }) } });
  await waitFor(() => events(gw, 'revocation_store_listening').length > 0, 'the gateway to LISTEN on the store');
});
after(async () => {
  await gw?.stop();
  await upstream?.stop();
  pki?.cleanup();
});

/** Revokes `serial` in the store as `pgmoat revoke` does: the row and the NOTIFY in one transaction. */
function revokeInStore(serial: string, opts: { notify?: boolean } = {}): void {
  const notify = opts.notify === false ? '' : `NOTIFY ${REVOCATION_CHANNEL}, '${serial}';`;
  upstream.sql(
    `BEGIN; INSERT INTO pgmoat.certificates (serial, authority_key_id, kind, identity, environment, status, reason, not_before, not_after, revoked_at, issued_at, fingerprint256, pem)
     VALUES ('${serial}', 'test', 'client', 'app', 'production', 'revoked', 'keyCompromise', now() - interval '1 day', now() + interval '1 day', now(), now(), 'test', '-----BEGIN CERTIFICATE-----');
     ${notify} COMMIT;`,
    'pgmoat_store',
  );
}

function listenerPids(): string[] {
  return upstream.sql("SELECT pid FROM pg_stat_activity WHERE application_name = 'pgmoat-revocations'").split('\n').filter(Boolean);
}

function storeFreshness(): { connected?: boolean | undefined; thisUpdate: Date | undefined; revokedCount: number } | undefined {
  return gw.gateway.revocations.freshness(Date.now()).find((f) => f.source === 'store');
}

/** A node-postgres session that stays open; `ended` settles with the error that ends it. */
async function openSession(c: ClientFiles): Promise<{ client: pg.Client; ended: Promise<Error & { code?: string }> }> {
  const client = new pg.Client(pgConfig(gw.port, { user: 'app', database: 'appdb', cert: c }));
  const ended = new Promise<Error & { code?: string }>((resolve) => client.on('error', resolve));
  await client.connect();
  await client.query('SELECT 1');
  return { client, ended };
}

test('a revocation written to the store with its NOTIFY ends the live session and refuses new logins; others keep working', { timeout: 60_000 }, async () => {
  const victim = await pki.client('app');
  const bystander = await pki.client('app');
  const v = await openSession(victim);
  const b = await openSession(bystander);
  const start = Date.now();
  revokeInStore(victim.serial);
  const err = await v.ended;
  console.log(`store revocation: live session ended ${Date.now() - start} ms after the COMMIT`);
  assert.equal(err.code, '28000');
  assert.match(err.message, /revoked/);
  assertRefused(await pgLogin(gw.port, { user: 'app', database: 'appdb', cert: victim }), '28000', 'client certificate has been revoked', 'CLIENT_CERT_REVOKED');
  assert.equal((await b.client.query('SELECT 2 AS n')).rows[0].n, 2);
  await b.client.end();
  const line = events(gw, 'revocation_store_revoked').find((l) => (l.serials as string[]).includes(victim.serial));
  assert.ok(line, 'a log line names the serial revoked by the store');
});

test('a NOTIFY for a serial the store does not list as revoked changes nothing', { timeout: 30_000 }, async () => {
  const c = await pki.client('app');
  const s = await openSession(c);
  upstream.sql(`NOTIFY ${REVOCATION_CHANNEL}, '${c.serial}'; NOTIFY ${REVOCATION_CHANNEL}, 'not a serial';`, 'pgmoat_store');
  // The hint is followed by a read of the table; a later query proves the session still runs after it.
  const before = storeFreshness()!.revokedCount;
  await waitFor(async () => (await s.client.query('SELECT 1')).rowCount === 1 && storeFreshness()!.connected === true, 'the session to keep working');
  assert.equal(storeFreshness()!.revokedCount, before);
  assertLoggedIn(await pgLogin(gw.port, { user: 'app', database: 'appdb', cert: c }), 'app');
  await s.client.end();
});

test('a revocation committed while the LISTEN connection is gone is enforced once it is back; meanwhile the list read last stays enforced', { timeout: 90_000 }, async () => {
  const earlier = await pki.client('app');
  revokeInStore(earlier.serial);
  await waitFor(() => gw.gateway.revocations.lookup(earlier.serial) !== undefined, 'the first revocation');

  // Keep the gateway out: no login for its role, and its connection ended.
  upstream.sql(`ALTER ROLE ${GATEWAY_ROLE} NOLOGIN`);
  const lostBefore = events(gw, 'revocation_store_lost').length;
  upstream.sql(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pgmoat-revocations'`);
  await waitFor(() => events(gw, 'revocation_store_lost').length > lostBefore, 'the lost line');
  await waitFor(() => storeFreshness()?.connected === false, 'the source to say it is not connected');
  const metrics = await gw.gateway.revocations.freshness(Date.now());
  assert.ok(metrics.some((f) => f.source === 'store'));

  const gap = await pki.client('app');
  const s = await openSession(gap);
  revokeInStore(gap.serial); // its NOTIFY reaches nobody
  assert.deepEqual(listenerPids(), [], 'no listener while the role cannot log in');
  // The list read last stays enforced while the store is away.
  assertRefused(await pgLogin(gw.port, { user: 'app', database: 'appdb', cert: earlier }), '28000', 'client certificate has been revoked', 'CLIENT_CERT_REVOKED');
  await waitFor(() => (storeFreshness()?.thisUpdate?.getTime() ?? Date.now()) < Date.now() - 1000, 'the list to age');
  // The warning is repeated every 30 s while the store stays away; the janitor's clock is moved on to see one.
  gw.gateway.revocations.get('store')!.poll(Date.now() + 31_000);
  const stale = events(gw, 'revocation_store_stale').at(-1);
  assert.ok(stale, 'a warn line while the store is unreachable');
  assert.ok((stale.age_seconds as number) >= 1, `the line says how old the list is (${String(stale.age_seconds)} s)`);

  upstream.sql(`ALTER ROLE ${GATEWAY_ROLE} LOGIN`);
  const err = await s.ended;
  assert.equal(err.code, '28000');
  assertRefused(await pgLogin(gw.port, { user: 'app', database: 'appdb', cert: gap }), '28000', 'client certificate has been revoked', 'CLIENT_CERT_REVOKED');
  const back = events(gw, 'revocation_store_listening').at(-1)!;
  assert.equal(typeof back.gap_seconds, 'number', 'the reconnect line says how long the store was away');
  assert.equal(storeFreshness()?.connected, true);
});

test('a store that stops answering without closing is found by the check and the source reconnects', { timeout: 90_000 }, async () => {
  const [pid] = listenerPids();
  assert.ok(pid, 'a listener backend');
  const lostBefore = events(gw, 'revocation_store_lost').length;
  const listeningBefore = events(gw, 'revocation_store_listening').length;
  process.kill(Number(pid), 'SIGSTOP');
  try {
    await waitFor(() => events(gw, 'revocation_store_lost').length > lostBefore, 'the check query to time out', 30_000);
    await waitFor(() => events(gw, 'revocation_store_listening').length > listeningBefore, 'a new LISTEN connection', 30_000);
  } finally {
    process.kill(Number(pid), 'SIGCONT');
  }
  // Revocations reach the gateway over the new connection.
  const c = await pki.client('app');
  revokeInStore(c.serial);
  await waitFor(() => gw.gateway.revocations.lookup(c.serial) !== undefined, 'the revocation over the new connection');
});

test('the store URL is logged without its password', () => {
  const lines = gw.logs().map((l) => JSON.stringify(l));
  assert.ok(lines.length > 0);
  assert.deepEqual(lines.filter((l) => l.includes(STORE_PASSWORD)), []);
  assert.match(String(events(gw, 'revocation_store_listening')[0]!.store), /^postgres:\/\/pgmoat_gw:\*\*\*@/);
});
