/**
 * Revocation fan-out through the CA's PostgreSQL store, on three gateways behind HAProxy (issue
 * 17): `pgmoat revoke` against the store (the row and a NOTIFY in one transaction) ends the
 * certificate's sessions on every gateway and refuses it everywhere, while another certificate's
 * pgbench run sees no error. No gateway reads crl.pem here: the store is the only way the
 * revocation reaches them. Then the LISTEN connections are cut and kept out while a revocation is
 * committed: once they are back, every gateway enforces it.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { get } from 'node:http';
import pg from 'pg';
import type { ClientFiles } from '../harness/cert-factory.js';
import { pgmoat } from '../ca/run-pgmoat.js';
import { waitFor } from '../gateway/helpers.js';
import { haproxySkip, pgbenchFigures, pgbenchThrough, startHaCluster, STORE_GATEWAY_ROLE, type HaCluster } from './haproxy-cluster.js';

/** PROXY v2 from HAProxy to the gateways, as production runs it. */
const SEND_PROXY_V2 = true;
const SESSIONS = 6;

let c: HaCluster;

before(async () => {
  if (haproxySkip) return;
  c = await startHaCluster({ sendProxyV2: SEND_PROXY_V2, poolSize: 10, pgbench: true, store: true });
  for (const g of c.gws) await waitFor(() => g.logs().some((l) => l.event === 'revocation_store_listening'), `gw${g.id} to LISTEN on the store`);
});
after(async () => {
  await c?.close();
});

/** node-postgres through HAProxy with `cert` instead of the cluster's app certificate. */
function configFor(cert: ClientFiles): pg.ClientConfig {
  const base = c.pgConfig();
  const ca = (base.ssl as { ca: string }).ca;
  return { ...base, ssl: { cert: cert.certPem, key: cert.keyPem, ca } };
}

function scrape(httpPort: number): Promise<string> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port: httpPort, path: '/metrics' }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
}

/** The value of an unlabelled sample, or undefined when /metrics has none. */
function metric(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

interface Session {
  client: pg.Client;
  peer: number;
  ended: Promise<{ at: number; code: string | undefined }>;
}

/** SESSIONS sessions of `cert` through HAProxy, which spreads them over the three gateways. */
async function openSessions(cert: ClientFiles): Promise<Session[]> {
  const out: Session[] = [];
  for (let i = 0; i < SESSIONS; i++) {
    const client = new pg.Client(configFor(cert));
    const ended = new Promise<{ at: number; code: string | undefined }>((resolve) =>
      client.on('error', (e: Error & { code?: string }) => resolve({ at: Date.now(), code: e.code })),
    );
    await client.connect();
    await client.query('SELECT 1');
    // The cancel key's pid carries the peer id of the gateway holding the session in its top bits.
    const peer = Math.floor((client as unknown as { processID: number }).processID / 2 ** 23);
    out.push({ client, peer, ended });
  }
  const peers = new Set(out.map((s) => s.peer));
  assert.deepEqual([...peers].sort(), [1, 2, 3], 'the sessions are spread over all three gateways');
  return out;
}

async function loginThrough(cert: ClientFiles): Promise<{ ok: boolean; code?: string; message?: string }> {
  const client = new pg.Client(configFor(cert));
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.end();
    return { ok: true };
  } catch (e) {
    const err = e as Error & { code?: string };
    return { ok: false, code: err.code, message: err.message };
  }
}

/** Every gateway refuses `cert`: three logins through round robin land on each, and each logs its refusal. */
async function assertRefusedEverywhere(cert: ClientFiles): Promise<void> {
  for (let i = 0; i < 3; i++) {
    const r = await loginThrough(cert);
    assert.equal(r.ok, false, 'a revoked certificate logs in nowhere');
    assert.equal(r.code, '28000', r.message);
  }
  for (const g of c.gws) {
    await waitFor(() => g.logs().some((l) => l.event === 'login_refused' && l.serial === cert.serial), `gw${g.id} to refuse ${cert.serial}`);
  }
}

test('pgmoat revoke against the store ends the certificate\'s sessions on all three gateways; another certificate\'s pgbench sees no error', { skip: haproxySkip, timeout: 180_000 }, async (t) => {
  const victim = await c.pki.client('app');
  const sessions = await openSessions(victim);
  const bench = pgbenchThrough(c, ['-n', '-c', '3', '-T', '8', '-M', 'extended']);
  await new Promise((r) => setTimeout(r, 1500)); // let pgbench get going before the revocation (not a timing assertion)
  const started = Date.now();
  const r = await pgmoat(['revoke', victim.serial, '--dir', c.pki.main.dir, '--reason', 'keyCompromise']);
  assert.equal(r.code, 0, r.stderr);
  const committed = Date.now();
  const ends = await Promise.all(sessions.map((s) => s.ended));
  for (const e of ends) assert.equal(e.code, '28000');
  // Each gateway logs how long after the revocation's time (revoked_at, set in the revoking transaction) it ended a session.
  await waitFor(() => c.gws.every((g) => g.logs().some((l) => l.event === 'revoked_session_ended' && l.serial === victim.serial)), 'every gateway to log its ended sessions');
  const delays = c.gws.flatMap((g) => g.logs().filter((l) => l.event === 'revoked_session_ended' && l.serial === victim.serial).map((l) => Number(l.delay_ms)));
  assert.equal(delays.length, SESSIONS);
  const slowest = Math.max(...delays);
  t.diagnostic(`revocation through the store: the slowest of ${SESSIONS} sessions on 3 gateways ended ${slowest} ms after revoked_at (pgmoat revoke ran ${committed - started} ms)`);
  console.log(`store fan-out: slowest session end ${slowest} ms after revoked_at; delays ${delays.join(', ')} ms; pgmoat revoke ran ${committed - started} ms`);
  for (const g of c.gws) {
    assert.ok(g.logs().some((l) => l.event === 'revocation_store_revoked' && (l.serials as string[]).includes(victim.serial)), `gw${g.id} took the revocation from the store`);
  }
  await assertRefusedEverywhere(victim);
  const run = await bench;
  const figures = pgbenchFigures(run);
  assert.equal(run.code, 0, run.stderr);
  assert.equal(figures.failed, 0);
  assert.equal(figures.aborted, 0);
  assert.ok(figures.processed > 0);
  t.diagnostic(`bystander pgbench: ${figures.processed} transactions, 0 failed`);
});

test('a revocation committed while every LISTEN connection is cut and kept out is enforced on all three once they are back', { skip: haproxySkip, timeout: 180_000 }, async () => {
  const victim = await c.pki.client('app');
  const sessions = await openSessions(victim);
  c.upstream.sql(`ALTER ROLE ${STORE_GATEWAY_ROLE} NOLOGIN`);
  const lostBefore = c.gws.map((g) => g.logs().filter((l) => l.event === 'revocation_store_lost').length);
  c.upstream.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pgmoat-revocations'");
  for (const [i, g] of c.gws.entries()) {
    await waitFor(() => g.logs().filter((l) => l.event === 'revocation_store_lost').length > lostBefore[i]!, `gw${g.id} to lose its LISTEN connection`);
  }
  const r = await pgmoat(['revoke', victim.serial, '--dir', c.pki.main.dir]);
  assert.equal(r.code, 0, r.stderr);
  // /metrics says the store is away and how old the list in force is.
  for (const g of c.gws) {
    await waitFor(async () => metric(await scrape(g.httpPort), 'pgmoat_revocation_store_connected') === 0, `gw${g.id}'s metric to say not connected`);
    await waitFor(async () => (metric(await scrape(g.httpPort), 'pgmoat_revocation_store_age_seconds') ?? 0) >= 1, `gw${g.id}'s list age to grow`);
  }
  // Its NOTIFY reached nobody: the sessions are still up while the gateways are kept out.
  assert.equal(c.upstream.sql("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgmoat-revocations'").trim(), '0');
  for (const s of sessions) assert.equal((await s.client.query('SELECT 1 AS n')).rows[0].n, 1);

  c.upstream.sql(`ALTER ROLE ${STORE_GATEWAY_ROLE} LOGIN`);
  const ends = await Promise.all(sessions.map((s) => s.ended));
  for (const e of ends) assert.equal(e.code, '28000');
  await assertRefusedEverywhere(victim);
  for (const g of c.gws) {
    assert.equal(metric(await scrape(g.httpPort), 'pgmoat_revocation_store_connected'), 1);
    const back = g.logs().filter((l) => l.event === 'revocation_store_listening').at(-1)!;
    assert.equal(typeof back.gap_seconds, 'number', `gw${g.id} says how long the store was away`);
  }
});
