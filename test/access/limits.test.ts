/**
 * Abuse resistance with real clients: caps on concurrent connections per certificate identity
 * and per address (FATAL 53300 at login, before any upstream work), and the handshake rate limit
 * (closed at accept, before TLS), each counted.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { makePki, type ClientFiles, type Pki } from '../harness/cert-factory.js';
import { startGateway, type RunningGateway } from '../harness/gateway.js';
import { conninfo, psql } from '../harness/psql.js';
import { assertLoggedIn, assertNoSecrets, assertRefused, events, pgConfig, pgLogin, secretsOf, tlsSection, upstreamDb, waitFor } from './helpers.js';
import { parseMetrics, sample } from '../admin/helpers.js';
import { GatewayMetrics } from '../../src/admin/metrics.js';

let upstream: PgServer;
let pki: Pki;
let gw: RunningGateway;
const c = {} as Record<'app1' | 'app2' | 'app3' | 'other', ClientFiles>;

function config(limits: Record<string, number>): Record<string, unknown> {
  return { tls: tlsSection(pki), databases: { appdb: upstreamDb(upstream, 'appdb') }, limits };
}

before(async () => {
  pki = await makePki();
  upstream = await startPostgres({ setupSql: 'CREATE ROLE app LOGIN; CREATE ROLE other LOGIN; CREATE DATABASE appdb OWNER app;' });
  c.app1 = await pki.client('app');
  c.app2 = await pki.client('app');
  c.app3 = await pki.client('app');
  c.other = await pki.client('other');
  gw = await startGateway(config({ connections_per_identity: 2 }));
});
after(async () => {
  if (gw) assertNoSecrets(gw.logs(), secretsOf(pki, Object.values(c), []));
  await gw?.stop();
  await upstream?.stop();
  pki?.cleanup();
});

async function open(cert: ClientFiles, user: string): Promise<pg.Client> {
  const client = new pg.Client(pgConfig(gw.port, { user, database: 'appdb', cert }));
  client.on('error', () => undefined);
  await client.connect();
  await client.query('SELECT 1');
  return client;
}

test('connections_per_identity: the third session of one identity gets FATAL 53300, another identity is not affected', async () => {
  const held = [await open(c.app1, 'app'), await open(c.app2, 'app')];
  const msg = 'too many connections for certificate identity "app" (connections_per_identity is 2)';
  assertRefused(await pgLogin(gw.port, { user: 'app', database: 'appdb', cert: c.app3 }), '53300', msg);
  const r = await psql(conninfo(gw.port, { user: 'app', dbname: 'appdb', cert: c.app3 }), 'SELECT 1');
  assert.ok(r.stderr.includes(`FATAL:  ${msg}`), r.stderr);
  assertLoggedIn(await pgLogin(gw.port, { user: 'other', database: 'appdb', cert: c.other }), 'other');
  assert.equal(gw.gateway.access.counters.identityCapRefused, 2);
  const line = events(gw, 'login_refused').at(-1)!;
  assert.equal(line.reason, 'connection limit');
  assert.equal(line.auth_failure, false);
  await held[0]!.end();
  // The slot is given back when the session ends.
  let ok = false;
  for (let i = 0; i < 50 && !ok; i++) {
    ok = (await pgLogin(gw.port, { user: 'app', database: 'appdb', cert: c.app3 })).ok;
    if (!ok) await sleep(50);
  }
  assert.ok(ok, 'a slot was freed when a session ended');
  await held[1]!.end();
});

test('connections_per_address: one more from the same address gets FATAL 53300', async () => {
  await gw.reload(config({ connections_per_address: 1 }));
  const held = await open(c.app1, 'app');
  assertRefused(await pgLogin(gw.port, { user: 'other', database: 'appdb', cert: c.other }), '53300', 'too many connections from this address (connections_per_address is 1)');
  assert.equal(gw.gateway.access.counters.addressCapRefused, 1);
  await held.end();
});

test('handshakes_per_second_per_address and handshakes_per_second: excess connections are closed before TLS, and counted', async () => {
  await gw.reload(config({ handshakes_per_second_per_address: 2 }));
  await sleep(1100); // a full bucket
  const burst = await Promise.all(Array.from({ length: 6 }, () => pgLogin(gw.port, { user: 'app', database: 'appdb', cert: c.app1 })));
  const refused = burst.filter((o) => !o.ok);
  assert.ok(burst.filter((o) => o.ok).length >= 1, 'the first ones get in');
  assert.ok(refused.length >= 3, `expected at least 3 of 6 refused, got ${refused.length}`);
  // No FATAL can be sent before TLS: the client sees the connection closed (ECONNRESET or EOF).
  for (const o of refused) assert.equal(o.severity, undefined, `${o.code} ${o.message}`);
  assert.ok(gw.gateway.access.counters.handshakesRateLimitedPerAddress >= 3);
  const line = events(gw, 'login_refused').at(-1)!;
  assert.equal(line.reason, 'rate limited');
  assert.equal(line.limit, 'handshakes_per_second_per_address');
  // One audit line per address per second; the rest are counted in a summary line.
  await waitFor(() => events(gw, 'rate_limited_suppressed').length > 0, 'the summary of suppressed lines', 5000);
  const logged = events(gw, 'login_refused').filter((l) => l.reason === 'rate limited').length;
  const suppressed = events(gw, 'rate_limited_suppressed').reduce((n, l) => n + (l.count as number), 0);
  assert.equal(logged + suppressed, gw.gateway.access.counters.handshakesRateLimitedPerAddress);
  await sleep(1100);
  assertLoggedIn(await pgLogin(gw.port, { user: 'app', database: 'appdb', cert: c.app1 }), 'app');

  await gw.reload(config({ handshakes_per_second: 1 }));
  await sleep(1100);
  const global = await Promise.all(Array.from({ length: 4 }, () => pgLogin(gw.port, { user: 'app', database: 'appdb', cert: c.app1 })));
  assert.ok(global.filter((o) => !o.ok).length >= 2);
  assert.ok(gw.gateway.access.counters.handshakesRateLimited >= 2);
});

test('pgmoat_rate_limited_total shows every refusal the limits counted, by kind', async () => {
  await gw.reload(config({ connections_per_address: 1 }));
  const held = await open(c.app1, 'app');
  const before = gw.gateway.access.counters.addressCapRefused;
  assertRefused(await pgLogin(gw.port, { user: 'other', database: 'appdb', cert: c.other }), '53300', 'too many connections from this address (connections_per_address is 1)');
  await held.end();
  const metrics = new GatewayMetrics(gw.gateway, { version: 'test', processMetrics: false });
  const m = parseMetrics((await metrics.scrape()).body);
  const counters = gw.gateway.access.counters;
  assert.equal(counters.addressCapRefused, before + 1);
  assert.equal(sample(m, 'pgmoat_rate_limited_total', { kind: 'connections_per_address' }), counters.addressCapRefused);
  assert.equal(sample(m, 'pgmoat_rate_limited_total', { kind: 'connections_per_identity' }), counters.identityCapRefused);
  assert.equal(sample(m, 'pgmoat_rate_limited_total', { kind: 'handshakes_per_second' }), counters.handshakesRateLimited);
  assert.equal(sample(m, 'pgmoat_rate_limited_total', { kind: 'handshakes_per_second_per_address' }), counters.handshakesRateLimitedPerAddress);
});
