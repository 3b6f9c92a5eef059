/**
 * Revocation that takes effect now: `pgmoat revoke` (the CLI, as an operator runs it) rewrites
 * crl.pem; the running gateway picks it up without a reload, ends the live session of the
 * revoked certificate with a FATAL and logs how long after crl.pem was written, while other
 * clients keep working. New connections and resumed TLS sessions (1.2 and 1.3) of the revoked
 * certificate are refused. A CRL past its nextUpdate keeps refusing what it lists, warns, and
 * reports its age.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import pg from 'pg';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { makePki, type ClientFiles, type Pki } from '../harness/cert-factory.js';
import { startGateway, type RunningGateway } from '../harness/gateway.js';
import { pgmoat } from '../ca/run-pgmoat.js';
import { startupMessage } from '../../src/protocol/messages.js';
import { parseErrorFields } from '../../src/protocol/error-response.js';
import { buildCrl } from '../../src/ca/crl.js';
import { readInventory } from '../../src/ca/index.js';
import { assertLoggedIn, assertNoSecrets, assertRefused, events, pgConfig, pgLogin, secretsOf, tlsSection, upstreamDb, waitFor } from './helpers.js';

let upstream: PgServer;
let pki: Pki;
let gw: RunningGateway;
const used: ClientFiles[] = [];

async function client(name: string): Promise<ClientFiles> {
  const c = await pki.client(name);
  used.push(c);
  return c;
}

before(async () => {
  pki = await makePki();
  upstream = await startPostgres({ setupSql: 'CREATE ROLE app LOGIN; CREATE ROLE other LOGIN; CREATE DATABASE appdb OWNER app;' });
  gw = await startGateway({ tls: tlsSection(pki), databases: { appdb: upstreamDb(upstream, 'appdb', { pool_size: 10 }) } });
});
after(async () => {
  if (gw) assertNoSecrets(gw.logs(), secretsOf(pki, used, []));
  await gw?.stop();
  await upstream?.stop();
  pki?.cleanup();
});

/** A node-postgres client running `SELECT 1` in a loop until it fails or is stopped. */
function queryLoop(c: ClientFiles, user: string): { client: pg.Client; ready: Promise<void>; ended: Promise<{ code?: string; message: string; severity?: string; routine?: string }>; count(): number; stop(): Promise<void> } {
  const client = new pg.Client(pgConfig(gw.port, { user, database: 'appdb', cert: c }));
  let n = 0;
  let stopped = false;
  let failure: ((e: { code?: string; message: string; severity?: string }) => void) | undefined;
  const ended = new Promise<{ code?: string; message: string; severity?: string; routine?: string }>((resolve) => (failure = resolve));
  client.on('error', (e: Error & { code?: string; severity?: string }) => failure!(e));
  const ready = client.connect().then(() => {
    void (async () => {
      while (!stopped) {
        try {
          await client.query('SELECT 1');
          n++;
        } catch (e) {
          failure!(e as Error & { code?: string });
          return;
        }
      }
    })();
  });
  return {
    client,
    ready,
    ended,
    count: () => n,
    stop: async () => {
      stopped = true;
      await client.end().catch(() => undefined);
    },
  };
}

test('pgmoat revoke ends the live session of that certificate, and only that one', { timeout: 60_000 }, async (t) => {
  const victim = await client('app');
  const bystander = await client('app');
  const other = await client('other');
  const v = queryLoop(victim, 'app');
  const b = queryLoop(bystander, 'app');
  const o = queryLoop(other, 'other');
  await Promise.all([v.ready, b.ready, o.ready]);
  await waitFor(() => v.count() > 10 && b.count() > 10 && o.count() > 10, 'the query loops to run');

  const cli = await pgmoat(['revoke', victim.serial, '--dir', pki.main.dir, '--reason', 'keyCompromise']);
  assert.equal(cli.code, 0, cli.stderr);

  const err = await v.ended;
  assert.equal(err.code, '28000');
  assert.equal(err.severity, 'FATAL');
  assert.equal(err.message, 'client certificate has been revoked');
  assert.equal(err.routine, 'CLIENT_CERT_REVOKED', 'the same code as a refused handshake');
  await waitFor(() => events(gw, 'revoked_session_ended').length > 0, 'the revoked_session_ended line');
  const line = events(gw, 'revoked_session_ended')[0]!;
  assert.equal(line.serial, victim.serial, 'the serial as pgmoat list prints it');
  assert.equal(line.with_message, true);
  assert.equal(typeof line.delay_ms, 'number');
  assert.ok(Number.isFinite(line.delay_ms) && (line.delay_ms as number) >= 0);
  t.diagnostic(`revoked session ended ${String(line.delay_ms)} ms after crl.pem was written`);
  // How fast is measured, not asserted here (a shared machine): the soak and bench report it.
  const end = events(gw, 'session_end').find((l) => l.serial === line.serial)!;
  assert.equal(end.reason, 'certificate revoked');

  // Everyone else keeps working, on the same pool.
  const before = { b: b.count(), o: o.count() };
  await waitFor(() => b.count() > before.b + 10 && o.count() > before.o + 10, 'the other clients to keep running queries');
  await Promise.all([b.stop(), o.stop(), v.stop()]);

  // A new connection with the revoked certificate is refused at once; a fresh one of the same name works.
  assertRefused(await pgLogin(gw.port, { user: 'app', database: 'appdb', cert: victim }), '28000', 'client certificate has been revoked', 'CLIENT_CERT_REVOKED');
  const refusedLine = events(gw, 'login_refused').findLast((l) => l.serial === victim.serial)!;
  assert.equal(refusedLine.reason, 'revoked', 'the audit reason comes from the code');
  assert.equal(refusedLine.code, 'CLIENT_CERT_REVOKED');
  assertLoggedIn(await pgLogin(gw.port, { user: 'app', database: 'appdb', cert: bystander }), 'app');
  const reloaded = events(gw, 'crl_reloaded').at(-1)!;
  assert.deepEqual(reloaded.newly_revoked, [victim.serial]);
});

/** Direct TLS (ALPN postgresql) + a StartupMessage; what the gateway answers first. */
function rawLogin(c: ClientFiles, version: 'TLSv1.2' | 'TLSv1.3', session?: Buffer): Promise<{ reused: boolean; session: Buffer | undefined; first: string; error?: { code: string; message: string } }> {
  return new Promise((resolve, reject) => {
    let latest: Buffer | undefined;
    let answer: Buffer = Buffer.alloc(0);
    let settled = false;
    const socket: TLSSocket = tlsConnect({
      host: '127.0.0.1',
      port: gw.port,
      ALPNProtocols: ['postgresql'],
      cert: c.certPem,
      key: c.keyPem,
      ca: pki.main.caPem,
      minVersion: version,
      maxVersion: version,
      ...(session ? { session } : {}),
    });
    const finish = (): void => {
      if (settled || answer.length < 5) return;
      const len = answer.readUInt32BE(1);
      if (answer.length < len + 1) return;
      const type = String.fromCharCode(answer[0]!);
      const body = answer.subarray(5, len + 1);
      // Wait for the session ticket (TLS 1.3 sends it after the handshake) before closing.
      const done = (): void => {
        settled = true;
        const out = { reused: socket.isSessionReused(), session: latest, first: type };
        socket.destroy();
        if (type === 'E') {
          const f = parseErrorFields(body);
          resolve({ ...out, error: { code: f.code, message: f.message } });
        } else resolve(out);
      };
      if (latest || type === 'E') done();
      else {
        // TLS 1.3 sends its ticket after the handshake; a resumed TLS 1.2 session may get none.
        const timer = setTimeout(done, 500);
        socket.once('session', () => {
          clearTimeout(timer);
          setImmediate(done);
        });
      }
    };
    socket.on('session', (s: Buffer) => (latest = s));
    socket.on('secureConnect', () => socket.write(startupMessage({ user: 'app', database: 'appdb' })));
    socket.on('data', (d: Buffer) => {
      answer = Buffer.concat([answer, d]);
      finish();
    });
    socket.on('error', (e) => {
      if (!settled) reject(e);
    });
    socket.on('close', () => {
      if (!settled) reject(new Error(`closed after ${answer.length} bytes`));
    });
  });
}

for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
  test(`${version}: a session resumed after its certificate was revoked is refused`, { timeout: 60_000 }, async (t) => {
    const c = await client('app');
    const first = await rawLogin(c, version);
    assert.equal(first.first, 'R', 'AuthenticationOk');
    assert.ok(first.session, 'the server issued a session ticket');
    const resumed = await rawLogin(c, version, first.session);
    assert.equal(resumed.reused, true, 'resumption works before the revocation (else this test proves nothing)');
    assert.equal(resumed.first, 'R');

    const reloads = events(gw, 'crl_reloaded').length;
    await pki.revoke(c.serial);
    await waitFor(() => events(gw, 'crl_reloaded').length > reloads, 'the gateway to load the new CRL');
    const after = await rawLogin(c, version, resumed.session ?? first.session);
    assert.equal(after.first, 'E');
    assert.deepEqual(after.error, { code: '28000', message: 'client certificate has been revoked' });
    t.diagnostic(`after revocation the session was ${after.reused ? 'resumed (refused by the serial check)' : 'not resumed (ticket keys rotated)'}`);
  });
}

test('a CRL past its nextUpdate: revoked serials stay refused, others get in, and it is reported', { timeout: 60_000 }, async () => {
  const revokedCert = await client('app');
  const good = await client('app');
  await pki.revoke(revokedCert.serial);
  const inventory = readInventory(pki.main.dir);
  const stale = await buildCrl(pki.main.authority, { entries: inventory.certificates, crlNumber: 1000, days: 1, now: new Date(Date.now() - 10 * 86_400_000) });
  const stalePath = join(pki.dir, 'stale-crl.pem');
  writeFileSync(stalePath, stale.pem);
  const staleGw = await startGateway({ tls: tlsSection(pki, { crl: stalePath }), databases: { appdb: upstreamDb(upstream, 'appdb') } });
  try {
    assertRefused(await pgLogin(staleGw.port, { user: 'app', database: 'appdb', cert: revokedCert }), '28000', 'client certificate has been revoked');
    assertLoggedIn(await pgLogin(staleGw.port, { user: 'app', database: 'appdb', cert: good }), 'app');
    const warning = staleGw.logs().find((l) => l.event === 'crl_stale')!;
    assert.ok(warning, 'a crl_stale warning at start');
    assert.equal(warning.level, 40);
    // A CRL carries whole seconds.
    const nextUpdate = new Date(Math.floor(stale.nextUpdate.getTime() / 1000) * 1000);
    assert.equal(warning.next_update, nextUpdate.toISOString());
    const status = staleGw.gateway.crlStatus;
    assert.equal(status.stale, true);
    assert.equal(status.nextUpdate?.getTime(), nextUpdate.getTime());
    assert.ok(status.ageSeconds! >= 10 * 86_400 - 60, `age ${status.ageSeconds}`);
    assert.ok(status.revokedCount >= 1);
    assert.equal(gw.gateway.crlStatus.stale, false, 'the main gateway has a current CRL');
    assertNoSecrets(staleGw.logs(), secretsOf(pki, used, []));
  } finally {
    await staleGw.stop();
  }
});
