/**
 * TLS session tickets across a reload: a reload that leaves the client CA bundle as it was keeps
 * the ticket keys (clients keep resuming); one that changes the bundle makes new keys, because a
 * resumed session skips chain verification and must not outlive the trust it was issued under.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { makePki, type ClientFiles, type Pki } from '../harness/cert-factory.js';
import { startGateway, type RunningGateway } from '../harness/gateway.js';
import { clientTlsSection, plainUpstream } from '../gateway/helpers.js';
import { resumableLogin } from '../gateway/raw-wire.js';

let upstream: PgServer;
let pki: Pki;
let gw: RunningGateway;
let app: ClientFiles;

function config(caPath: string): Record<string, unknown> {
  return { tls: { ...clientTlsSection(pki), ca: caPath }, databases: { appdb: plainUpstream(upstream, 'appdb') } };
}

before(async () => {
  pki = await makePki();
  upstream = await startPostgres({ setupSql: 'CREATE ROLE app LOGIN; CREATE DATABASE appdb OWNER app;' });
  app = await pki.client('app');
  gw = await startGateway(config(pki.main.caPath));
});
after(async () => {
  await gw?.stop();
  await upstream?.stop();
  pki?.cleanup();
});

test('a reload that keeps the CA bundle keeps the tickets; one that changes it does not', async () => {
  const first = await resumableLogin(gw.port, app);
  assert.equal(first.reused, false);
  assert.ok(first.ticket);

  await gw.reload(config(pki.main.caPath));
  const sameTrust = await resumableLogin(gw.port, app, first.ticket);
  assert.equal(sameTrust.reused, true, 'unchanged trust: the ticket resumes after the reload');

  // The main CA plus the foreign one: the trust changed, even though the client's CA is still in it.
  const bundle = join(gw.dir, 'bundle.crt');
  writeFileSync(bundle, pki.main.caPem + pki.foreign.caPem);
  await gw.reload(config(bundle));
  const newTrust = await resumableLogin(gw.port, app, sameTrust.ticket ?? first.ticket);
  assert.equal(newTrust.reused, false, 'changed trust: a full handshake, verified against the new bundle');
  const again = await resumableLogin(gw.port, app, newTrust.ticket);
  assert.equal(again.reused, true, 'tickets issued under the new bundle resume');
});
