/**
 * A reload reads crl.pem against the list in force when it starts; when the CRL watch applies a
 * newer CRL while the reload awaits its files (pgmoat revoke, then SIGHUP), the reload must not
 * put the older list back. The test drives the two halves of a reload in the order the race
 * produces.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { makePki, type Pki } from '../harness/cert-factory.js';
import { startGateway, type RunningGateway } from '../harness/gateway.js';
import { loadConfig } from '../../src/config/load.js';
import { buildRuntimeConfig } from '../../src/runtime/runtime-config.js';
import { assertRefused, events, pgLogin, tlsSection, upstreamDb, waitFor } from './helpers.js';

let upstream: PgServer;
let pki: Pki;
let gw: RunningGateway;

before(async () => {
  pki = await makePki();
  upstream = await startPostgres({ setupSql: 'CREATE ROLE app LOGIN; CREATE DATABASE appdb OWNER app;' });
  gw = await startGateway({ tls: tlsSection(pki), databases: { appdb: upstreamDb(upstream, 'appdb') } });
});
after(async () => {
  await gw?.stop();
  await upstream?.stop();
  pki?.cleanup();
});

test('a reload that overlaps a CRL update does not put the older CRL back', { timeout: 60_000 }, async () => {
  const victim = await pki.client('app');
  assert.equal((await pgLogin(gw.port, { user: 'app', database: 'appdb', cert: victim })).ok, true);
  const g = gw.gateway;
  // First half of reloadGateway: the config and crl.pem are read now, against the list in force now.
  const rc = await buildRuntimeConfig(await loadConfig(g.runtime.path), g.runtime.share, { inForce: g.runtime.revocation });
  // Meanwhile: pgmoat revoke, applied by the CRL watch.
  await pki.revoke(victim.serial);
  await waitFor(() => events(gw, 'crl_reloaded').length > 0, 'the watch applies the newer CRL');
  assertRefused(await pgLogin(gw.port, { user: 'app', database: 'appdb', cert: victim }), '28000', 'client certificate has been revoked');
  // Second half of reloadGateway.
  g.reload(rc);
  await new Promise((r) => setTimeout(r, 1500)); // the watch's poll and debounce had their chance
  const after = await pgLogin(gw.port, { user: 'app', database: 'appdb', cert: victim });
  assertRefused(after, '28000', 'client certificate has been revoked');
});
