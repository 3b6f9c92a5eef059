/**
 * SIGHUP applies the checks of the TLS file watch. `pgmoat serve` runs as a real process with
 * tls.reload_on_change off, so that only the signal reads the new files: an older, an expired
 * and a not yet valid server certificate (each with its own, matching key) are refused whole,
 * with the code in the reload's log line, and new handshakes keep getting the certificate in
 * force; a current pair is then loaded by the next SIGHUP. Clients: direct TLS from node:tls for
 * the fingerprint, node-postgres through the gateway to a real PostgreSQL.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { makePki, type ClientFiles, type Pki } from '../harness/cert-factory.js';
import { startGatewayProcess, writeConfig } from '../harness/gateway.js';
import { freePort } from '../harness/free-port.js';
import { serverPair, type ServerPair } from '../harness/server-pair.js';
import { APP_SETUP_SQL, nodeSsl, plainUpstream, waitFor } from './helpers.js';
import { servedFingerprint as fingerprintAt, jsonLogLines } from '../harness/tls-probe.js';

const DAY_MS = 86_400_000;

let pki: Pki;
let upstream: PgServer;
let app: ClientFiles;
let dir: string;
let port: number;
let gw: Awaited<ReturnType<typeof startGatewayProcess>>;
let inForce: string;

const certPath = (): string => join(dir, 'server.crt');
const keyPath = (): string => join(dir, 'server.key');

before(async () => {
  pki = await makePki();
  app = await pki.client('app');
  dir = mkdtempSync(join(tmpdir(), 'pgmoat-tls-sighup-'));
  chmodSync(dir, 0o700);
  copyFileSync(pki.server.certPath, certPath());
  writeFileSync(keyPath(), pki.server.keyPem, { mode: 0o600 });
  inForce = new X509Certificate(pki.server.certPem).fingerprint256;
  upstream = await startPostgres({ setupSql: APP_SETUP_SQL });
  port = await freePort();
  const configPath = writeConfig(dir, {
    listen: { host: '127.0.0.1', port },
    log: { level: 'info' },
    tls: { mode: 'verify-full', cert: certPath(), key: keyPath(), ca: pki.main.caPath, reload_on_change: false },
    databases: { appdb: plainUpstream(upstream, 'appdb') },
  });
  gw = await startGatewayProcess(configPath);
});

after(async () => {
  await gw?.stop();
  await upstream?.stop();
  pki?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const logLines = (): Record<string, unknown>[] => jsonLogLines(gw.output());

const reloads = (outcome: string): Record<string, unknown>[] => logLines().filter((l) => l.event === 'reload' && l.outcome === outcome);

const servedFingerprint = (): Promise<string> => fingerprintAt(port, app, pki.main.caPem, ['postgresql']);

async function query(): Promise<string> {
  const c = new pg.Client({ host: '127.0.0.1', port, user: 'app', database: 'appdb', ssl: nodeSsl(app), connectionTimeoutMillis: 10_000 });
  c.on('error', () => undefined);
  try {
    await c.connect();
    return String((await c.query('SELECT 1 AS one')).rows[0].one);
  } finally {
    await c.end().catch(() => undefined);
  }
}

function writePair(p: ServerPair): void {
  writeFileSync(keyPath(), p.keyPem, { mode: 0o600 });
  writeFileSync(certPath(), p.certPem);
}

async function sighupRefused(p: ServerPair, code: string): Promise<void> {
  writePair(p);
  const before = reloads('refused').length;
  gw.proc.kill('SIGHUP');
  await waitFor(() => reloads('refused').length > before, `the SIGHUP reload to be refused (${code})`, 20_000);
  const line = reloads('refused').at(-1)!;
  assert.equal(line.code, code, JSON.stringify(line));
  assert.equal(line.level, 50, 'logged as an error');
  assert.match(String(line.reason), /tls\.cert/);
  assert.equal(await servedFingerprint(), inForce, 'new handshakes still get the certificate in force');
  assert.equal(await query(), '1', 'the gateway serves on');
}

test('SIGHUP with an older server certificate (and its key): the reload is refused whole (TLS_CERT_ROLLBACK), the running one serves', async () => {
  assert.equal(await servedFingerprint(), inForce);
  await sighupRefused(await serverPair(pki.main.authority, { notBefore: new Date(Date.now() - 2 * DAY_MS) }), 'TLS_CERT_ROLLBACK');
});

test('SIGHUP with an expired server certificate: refused (TLS_CERT_EXPIRED), the running one serves', async () => {
  await sighupRefused(await serverPair(pki.main.authority, { notBefore: new Date(Date.now() - 3 * DAY_MS), notAfter: new Date(Date.now() - DAY_MS) }), 'TLS_CERT_EXPIRED');
});

test('SIGHUP with a certificate not valid for another hour: refused (TLS_CERT_NOT_YET_VALID), the running one serves', async () => {
  await sighupRefused(await serverPair(pki.main.authority, { notBefore: new Date(Date.now() + 3_600_000) }), 'TLS_CERT_NOT_YET_VALID');
});

test('SIGHUP with a current pair: loaded, new handshakes get it', async () => {
  const next = await serverPair(pki.main.authority);
  writePair(next);
  const before = reloads('ok').length;
  gw.proc.kill('SIGHUP');
  await waitFor(() => reloads('ok').length > before, 'the SIGHUP reload to apply', 20_000);
  assert.equal(await servedFingerprint(), next.fingerprint);
  assert.equal(await query(), '1');
});
