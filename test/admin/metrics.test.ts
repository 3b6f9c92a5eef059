/**
 * The admin HTTP listener against a real PostgreSQL: /metrics after real traffic (psql, node-postgres,
 * refused certificates), /healthz, /readyz turning 503 on a broken upstream, and the listener's own
 * mutual TLS with its own CA.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import pg from 'pg';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { makePki, type Pki, type ClientFiles } from '../harness/cert-factory.js';
import { startGateway, writeConfig, type RunningGateway } from '../harness/gateway.js';
import { freePort } from '../harness/free-port.js';
import { conninfo, psql } from '../harness/psql.js';
import { clientTlsSection, nodeSsl, plainUpstream } from '../gateway/helpers.js';
import { Admin } from '../../src/admin/admin.js';
import { parseMetrics, quietLog, sample, total, type Series } from './helpers.js';

let pgs: PgServer;
let pki: Pki;
let app: ClientFiles;
let gw: RunningGateway;
let admin: Admin;
let deadPort: number;
const open: pg.Client[] = [];

function config(http: Record<string, unknown>): Record<string, unknown> {
  return {
    tls: clientTlsSection(pki),
    pool_mode: 'transaction',
    databases: {
      appdb: plainUpstream(pgs, 'appdb', { pool_size: 2 }),
      deaddb: { host: '127.0.0.1', port: deadPort, dbname: 'appdb', environment: 'production', tls: { mode: 'disable' }, server_connect_timeout: '2s' },
    },
    admin: { identities: ['ops'], http },
  };
}

before(async () => {
  pki = await makePki();
  app = await pki.client('app');
  deadPort = await freePort();
  pgs = await startPostgres({ setupSql: 'CREATE ROLE app LOGIN; CREATE ROLE victim LOGIN; CREATE DATABASE appdb OWNER app;' });
  gw = await startGateway(config({ host: '127.0.0.1', port: 0 }));
  admin = Admin.attach(gw.gateway, { log: quietLog() });
  await admin.start();
});

after(async () => {
  for (const c of open) await c.end().catch(() => undefined);
  await admin?.close();
  await gw?.stop();
  await pgs?.stop();
  pki?.cleanup();
});

interface Reply {
  status: number;
  type: string;
  body: string;
}

function get(path: string, method = 'GET'): Promise<Reply> {
  const port = admin.httpAddress!.port;
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, method, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body }));
    });
    req.on('error', reject);
    req.end();
  });
}

async function scrape(): Promise<Series[]> {
  const r = await get('/metrics');
  assert.equal(r.status, 200);
  assert.match(r.type, /^text\/plain; version=0\.0\.4/);
  return parseMetrics(r.body);
}

const APP = { database: 'appdb', user: 'app' };

test('/metrics reports pools, traffic, handshakes, identities and the CRL after real traffic', async () => {
  const held = new pg.Client({ host: '127.0.0.1', port: gw.port, user: 'app', database: 'appdb', ssl: nodeSsl(app) });
  await held.connect();
  open.push(held);
  for (let i = 0; i < 5; i++) await held.query('SELECT $1::int', [i]);
  for (let i = 0; i < 3; i++) {
    const r = await psql(conninfo(gw.port, { user: 'app', dbname: 'appdb', cert: app }), 'SELECT 1');
    assert.equal(r.code, 0, r.stderr);
  }
  const foreign = await pki.client('app', { ca: 'foreign' });
  const expired = await pki.client('app', { expired: true });
  assert.notEqual((await psql(conninfo(gw.port, { user: 'app', dbname: 'appdb', cert: foreign }), 'SELECT 1')).code, 0);
  assert.notEqual((await psql(conninfo(gw.port, { user: 'app', dbname: 'appdb', cert: expired }), 'SELECT 1')).code, 0);
  assert.notEqual((await psql(conninfo(gw.port, { user: 'app', dbname: 'appdb', sslmode: 'require' }), 'SELECT 1')).code, 0);

  const m = await scrape();
  // Pools: the held client is idle between transactions; its server went back to the pool.
  assert.equal(sample(m, 'pgmoat_clients', { ...APP, state: 'idle' }), 1);
  assert.equal(sample(m, 'pgmoat_clients', { ...APP, state: 'waiting' }), 0);
  assert.equal(sample(m, 'pgmoat_clients', { ...APP, state: 'active' }), 0);
  assert.ok((sample(m, 'pgmoat_servers', { ...APP, state: 'idle' }) ?? 0) >= 1);
  assert.equal(sample(m, 'pgmoat_servers', { ...APP, state: 'active' }), 0);
  assert.equal(sample(m, 'pgmoat_client_max_wait_seconds', APP), 0);
  assert.equal(sample(m, 'pgmoat_pool_paused', APP), 0);
  // 5 extended-protocol queries + 3 psql sessions of one query each (psql's own startup queries aside).
  assert.ok((sample(m, 'pgmoat_queries_total', APP) ?? 0) >= 8);
  assert.ok((sample(m, 'pgmoat_transactions_total', APP) ?? 0) >= 8);
  assert.ok((sample(m, 'pgmoat_client_received_bytes_total', APP) ?? 0) > 0);
  assert.ok((sample(m, 'pgmoat_client_sent_bytes_total', APP) ?? 0) > 0);
  assert.ok((sample(m, 'pgmoat_server_connects_total', { ...APP, outcome: 'ok' }) ?? 0) >= 1);
  // Histograms: +Inf bucket equals the count.
  const qCount = sample(m, 'pgmoat_query_duration_seconds_count', APP) ?? 0;
  assert.ok(qCount >= 8);
  assert.equal(sample(m, 'pgmoat_query_duration_seconds_bucket', { ...APP, le: '+Inf' }), qCount);
  assert.equal(qCount, sample(m, 'pgmoat_queries_total', APP));
  assert.ok((sample(m, 'pgmoat_transaction_duration_seconds_count', APP) ?? 0) >= 8);

  // Handshakes: 1 node-postgres + 3 psql accepted; the foreign and the expired one refused with their reason.
  assert.ok((sample(m, 'pgmoat_tls_handshakes_total', { outcome: 'accepted', reason: 'none' }) ?? 0) >= 4);
  assert.equal(sample(m, 'pgmoat_tls_handshakes_total', { outcome: 'refused', reason: 'unknown-ca' }), 1);
  assert.equal(sample(m, 'pgmoat_tls_handshakes_total', { outcome: 'refused', reason: 'expired' }), 1);
  assert.ok(total(m, 'pgmoat_tls_handshakes_total', { reason: 'no-certificate' }) >= 1, 'a client without a certificate is counted');
  assert.ok(total(m, 'pgmoat_tls_handshake_duration_seconds_count') >= 6);

  // The identity's notAfter, labelled by CN, environment and serial; never the unverified ones.
  const notAfter = new Date(new X509Certificate(app.certPem).validTo).getTime() / 1000;
  assert.equal(sample(m, 'pgmoat_client_certificate_not_after_timestamp_seconds', { cn: 'app', environment: 'production', serial: app.serial }), notAfter);
  assert.equal(sample(m, 'pgmoat_client_certificate_not_after_timestamp_seconds', { serial: foreign.serial }), undefined);
  assert.equal(sample(m, 'pgmoat_client_certificate_not_after_timestamp_seconds', { serial: expired.serial }), undefined);

  // The CRL pgmoat init wrote: empty, current.
  assert.equal(sample(m, 'pgmoat_crl_revoked_entries'), 0);
  assert.equal(sample(m, 'pgmoat_crl_stale'), 0);
  assert.ok((sample(m, 'pgmoat_crl_next_update_timestamp_seconds') ?? 0) > Date.now() / 1000);
  assert.ok((sample(m, 'pgmoat_crl_age_seconds') ?? -1) >= 0);
  assert.equal(sample(m, 'pgmoat_crl_number', { issuer: 'CN=pgmoat test CA, O=pgmoat' }), 1, 'pgmoat init signs CRL number 1');

  assert.equal(sample(m, 'pgmoat_config_reloads_total', { outcome: 'ok' }), 0);
  assert.equal(sample(m, 'pgmoat_rate_limited_total', { kind: 'handshakes_per_second' }), 0);
  assert.equal(sample(m, 'pgmoat_admin_sessions'), 0);
  assert.ok(sample(m, 'pgmoat_build_info') === 1);
  assert.ok(m.some((s) => s.name === 'process_cpu_user_seconds_total'));
});

test('config reloads are counted by outcome', async () => {
  await admin.reload('test');
  writeConfig(gw.dir, { ...config({ host: '127.0.0.1', port: 0 }), pool_mode: 'never', listen: { host: '127.0.0.1', port: gw.port } });
  await assert.rejects(admin.reload('test'), /configuration reload refused/);
  const m = await scrape();
  assert.equal(sample(m, 'pgmoat_config_reloads_total', { outcome: 'ok' }), 1);
  assert.equal(sample(m, 'pgmoat_config_reloads_total', { outcome: 'refused' }), 1);
  assert.equal(sample(m, 'pgmoat_config_last_reload_successful'), 0);
  writeConfig(gw.dir, { ...config({ host: '127.0.0.1', port: admin.httpAddress!.port }), listen: { host: '127.0.0.1', port: gw.port } });
  await admin.reload('test');
});

test('/healthz answers; /readyz turns 503 when a pool has no server and its last connect failed', async () => {
  const health = await get('/healthz');
  assert.equal(health.status, 200);
  assert.equal(health.body, 'ok\n');
  const ready = await get('/readyz');
  assert.equal(ready.status, 200, ready.body);

  const r = await psql(conninfo(gw.port, { user: 'app', dbname: 'deaddb', cert: app }), 'SELECT 1');
  assert.notEqual(r.code, 0);
  const notReady = await get('/readyz');
  assert.equal(notReady.status, 503);
  assert.match(notReady.body, /pool deaddb\/app: no server connection/);
  const m = await scrape();
  assert.ok((sample(m, 'pgmoat_server_connects_total', { database: 'deaddb', user: 'app', outcome: 'failed' }) ?? 0) >= 1);

  assert.equal((await get('/metrics', 'HEAD')).body, '');
  assert.equal((await get('/metrics', 'POST')).status, 405);
  assert.equal((await get('/nope')).status, 404);
});

test('a revocation that ends a live session is counted with its delay', async () => {
  const victim = await pki.client('victim');
  const c = new pg.Client({ host: '127.0.0.1', port: gw.port, user: 'victim', database: 'appdb', ssl: nodeSsl(victim) });
  c.on('error', () => undefined);
  await c.connect();
  open.push(c);
  await c.query('SELECT 1');
  const ended = new Promise<void>((resolve) => c.once('end', () => resolve()));
  await pki.revoke('victim');
  await ended;
  const m = await scrape();
  assert.equal(sample(m, 'pgmoat_revocations_enforced_total'), 1);
  assert.equal(sample(m, 'pgmoat_revocation_delay_seconds_count', { event: 'session_ended' }), 1);
  assert.equal(sample(m, 'pgmoat_crl_revoked_entries'), 1);
  assert.equal(sample(m, 'pgmoat_crl_number', { issuer: 'CN=pgmoat test CA, O=pgmoat' }), 2, 'the revocation signed CRL number 2');
});

function httpsGet(port: number, client: ClientFiles | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        path: '/metrics',
        ca: readFileSync(pki.main.caPath, 'utf8'),
        ...(client ? { cert: client.certPem, key: client.keyPem } : {}),
        agent: false,
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

test('with admin.http.tls.ca the listener wants a client certificate from its own CA', async () => {
  const tls = { cert: pki.server.certPath, key: pki.server.keyPath, ca: pki.foreign.caPath };
  writeConfig(gw.dir, { ...config({ host: '127.0.0.1', port: 0, tls }), listen: { host: '127.0.0.1', port: gw.port } });
  await admin.reload('test');
  const port = admin.httpAddress!.port;
  const prometheus = await pki.client('prometheus', { ca: 'foreign' });
  assert.equal(await httpsGet(port, prometheus), 200);
  await assert.rejects(httpsGet(port, undefined), 'no client certificate');
  await assert.rejects(httpsGet(port, app), 'a certificate of the PostgreSQL clients CA is not one of the admin CA');
});
