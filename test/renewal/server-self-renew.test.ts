/**
 * `pgmoat serve` with `renewal:` renews the gateway's own server certificate through the CA it
 * runs (renewal.server_certificate): a 5-minute certificate renewed at a small renew_at, several
 * times, while psql and node-postgres connect (new handshakes see the new serials, no connection
 * fails, the inventory holds every new one, the renewal listener serves it too); a tls.cert from
 * another CA is left alone; with --workers 2 the primary runs the service and counts it on
 * /metrics; SIGHUP applies a changed renewal: setting.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { createServer, type AddressInfo } from 'node:net';
import { once } from 'node:events';
import pg from 'pg';
import { makePki, type Pki } from '../harness/cert-factory.js';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { startGatewayProcess, writeConfig } from '../harness/gateway.js';
import { freePort } from '../harness/free-port.js';
import { conninfo, psql } from '../harness/psql.js';
import { APP_SETUP_SQL, nodeSsl, pgSocket, plainUpstream, waitFor } from '../gateway/helpers.js';
import { startCluster } from '../cluster/helpers.js';
import { adminConn } from '../admin/helpers.js';
import { issueServer, openCa } from '../../src/ca/index.js';
import { readInventory } from '../../src/ca/inventory.js';
import { normalizeSerial } from '../../src/util/serial.js';
import { curl, opensslCsr, serialOf, workDir } from './helpers.js';
import { jsonLogLines } from '../harness/tls-probe.js';

let pki: Pki;
let upstream: PgServer;

before(async () => {
  pki = await makePki();
  upstream = await startPostgres({ setupSql: APP_SETUP_SQL });
});
after(async () => {
  await upstream?.stop();
  pki?.cleanup();
});


function scrape(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    httpRequest({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c)).on('end', () => resolve(text));
    })
      .on('error', reject)
      .end();
  });
}

/** The serial of the certificate the renewal listener presents now. */
function listenerSerial(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port, path: '/v1/ca', rejectUnauthorized: false, agent: false }, (res) => {
      const cert = (res.socket as TLSSocket).getPeerCertificate();
      res.resume();
      resolve(normalizeSerial(cert.serialNumber));
    });
    req.on('error', reject);
    req.end();
  });
}

function metricValue(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

/** A gateway directory with its own copy of a server pair (so that each test renews its own files). */
function serverCopy(dir: string, from: { certPath: string; keyPath: string }): { cert: string; key: string } {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const files = { cert: join(dir, 'server.crt'), key: join(dir, 'server.key') };
  copyFileSync(from.certPath, files.cert);
  copyFileSync(from.keyPath, files.key);
  return files;
}

function gatewayConfig(o: { port: number; adminPort: number; renewalPort: number; cert: string; key: string; renewal?: Record<string, unknown> }): Record<string, unknown> {
  return {
    listen: { host: '127.0.0.1', port: o.port },
    tls: { mode: 'verify-full', cert: o.cert, key: o.key, ca: pki.main.caPath, crl: pki.crlPath },
    databases: { appdb: plainUpstream(upstream, 'appdb', { pool_size: 2 }) },
    admin: { http: { host: '127.0.0.1', port: o.adminPort } },
    renewal: { host: '127.0.0.1', port: o.renewalPort, ca_dir: pki.main.dir, ...o.renewal },
  };
}

test('the gateway renews its own 5-minute certificate at least twice while psql and node-postgres connect', async () => {
  const dir = workDir();
  // A short-lived server certificate of the CA the gateway runs the renewal service for.
  const ca = await openCa(pki.main.dir);
  const issued = await issueServer(ca, { lifetime: '5m' });
  const files = serverCopy(join(dir, 'gw'), issued);
  const firstSerial = serialOf(readFileSync(files.cert, 'utf8'));
  const subject = readFileSync(files.cert, 'utf8');
  const [port, adminPort, renewalPort] = [await freePort(), await freePort(), await freePort()];
  const configPath = writeConfig(dir, gatewayConfig({ port, adminPort, renewalPort, ...files, renewal: { server_certificate: { renew_at: 0.1 } } }));
  const proc = await startGatewayProcess(configPath);
  const app = await pki.client('app');
  const seen = new Set<string>();
  let connections = 0;
  const failures: string[] = [];
  try {
    // Connect over and over until the handshakes have shown three serials (the first and two renewals).
    await waitFor(
      async () => {
        const client = new pg.Client({ host: 'localhost', port, user: 'app', database: 'appdb', ssl: nodeSsl(app) });
        try {
          await client.connect();
          seen.add(normalizeSerial((pgSocket(client) as TLSSocket).getPeerCertificate().serialNumber));
          const r = await client.query('SELECT current_user AS u');
          assert.equal(r.rows[0].u, 'app');
        } catch (err) {
          failures.push(`node-postgres: ${(err as Error).message}`);
        } finally {
          await client.end().catch(() => undefined);
        }
        const q = await psql(conninfo(port, { user: 'app', dbname: 'appdb', host: 'localhost', cert: { certPath: app.certPath, keyPath: app.keyPath, caPath: pki.main.caPath } }), 'SELECT 1');
        if (q.code !== 0 || q.stdout !== '1') failures.push(`psql: ${q.stderr}`);
        connections += 2;
        return seen.size >= 3;
      },
      'three server certificate serials in the handshakes',
      150_000,
    );
    assert.deepEqual(failures, [], `failed connections out of ${connections}`);
    assert.ok(seen.has(firstSerial));
    const logs = jsonLogLines(proc.output());
    const renewals = logs.filter((l) => l.event === 'renewal' && l.kind === 'server' && l.outcome === 'renewed');
    assert.ok(renewals.length >= 2, proc.output());
    assert.equal(renewals[0]!.old_serial, firstSerial);
    assert.equal(renewals[1]!.old_serial, renewals[0]!.new_serial);
    // Every serial a handshake showed is one the CA issued and recorded, as a server certificate of the same name.
    const inventory = readInventory(pki.main.dir).certificates;
    for (const serial of seen) {
      const entry = inventory.find((e) => e.serial === serial);
      assert.equal(entry?.kind, 'server', serial);
      assert.equal(entry?.name, 'localhost');
    }
    // The identity is kept exactly: subject and SANs.
    const { X509Certificate } = await import('node:crypto');
    const now = new X509Certificate(readFileSync(files.cert, 'utf8'));
    const old = new X509Certificate(subject);
    assert.equal(now.subject, old.subject);
    assert.equal(now.subjectAltName, old.subjectAltName);
    assert.deepEqual(now.keyUsage, old.keyUsage);
    assert.equal(readFileSync(files.key).length > 0, true);
    // The renewal listener, which uses the gateway's certificate, serves the renewed one too.
    const current = serialOf(readFileSync(files.cert, 'utf8'));
    await waitFor(async () => (await listenerSerial(renewalPort)) === current || serialOf(readFileSync(files.cert, 'utf8')) !== current, 'the renewal listener to serve the renewed certificate', 20_000);
    const metrics = await scrape(adminPort);
    assert.ok(metricValue(metrics, 'pgmoat_server_certificate_renewals_total{outcome="renewed"}') >= 2, metrics);
  } finally {
    const code = await proc.stop('SIGTERM');
    assert.equal(code, 0, proc.output());
  }
});

test('a tls.cert from another CA is left alone (said once at start)', async () => {
  const dir = workDir();
  const foreignCa = await openCa(pki.foreign.dir);
  const foreign = await issueServer(foreignCa, { lifetime: '5m' });
  const files = serverCopy(join(dir, 'gw'), foreign);
  const before = readFileSync(files.cert, 'utf8');
  const inventoryBefore = readInventory(pki.main.dir).certificates.length;
  const [port, adminPort, renewalPort] = [await freePort(), await freePort(), await freePort()];
  const configPath = writeConfig(dir, gatewayConfig({ port, adminPort, renewalPort, ...files, renewal: { server_certificate: { renew_at: 0.01 } } }));
  const proc = await startGatewayProcess(configPath);
  try {
    await waitFor(() => proc.output().includes('"event":"renewal_listening"'), 'the renewal listener', 20_000);
    const notOurs = jsonLogLines(proc.output()).filter((l) => l.event === 'server_certificate_not_ours');
    assert.equal(notOurs.length, 1, proc.output());
    assert.equal(notOurs[0]!.level, 30);
    assert.match(String(notOurs[0]!.reason), /not signed by the CA/);
    assert.ok(!proc.output().includes('"event":"server_certificate_scheduled"'));
    assert.equal(readFileSync(files.cert, 'utf8'), before);
    assert.equal(readInventory(pki.main.dir).certificates.length, inventoryBefore);
  } finally {
    assert.equal(await proc.stop('SIGTERM'), 0, proc.output());
  }
});

test('serve --workers 2 with renewal: the primary answers POST /v1/renew, renews the gateway certificate and counts both on /metrics', async () => {
  const dir = workDir();
  const ca = await openCa(pki.main.dir);
  const files = serverCopy(join(dir, 'gw'), await issueServer(ca, { lifetime: '5m' }));
  const [port, adminPort, renewalPort] = [await freePort(), await freePort(), await freePort()];
  const configPath = writeConfig(dir, gatewayConfig({ port, adminPort, renewalPort, ...files, renewal: { server_certificate: { renew_at: 0.1 } } }));
  const cluster = await startCluster(configPath, 2);
  try {
    await waitFor(() => cluster.output().includes('"event":"renewal_listening"'), 'the renewal listener', 20_000);
    const listening = cluster.events('renewal_listening');
    assert.equal(listening.length, 1, 'one listener, in the primary');
    assert.equal(listening[0]!.role, 'primary');
    const app = await pki.client('app');
    const { csrPath } = opensslCsr(dir, 'workers', '/CN=app');
    const ok = await curl(`https://localhost:${renewalPort}/v1/renew`, { cert: app.certPath, key: app.keyPath, cacert: pki.main.caPath, dataFile: csrPath });
    assert.equal(ok.status, 200, ok.body);
    await waitFor(() => cluster.events('renewal').some((l) => l.kind === 'server'), 'the primary to renew the gateway certificate', 60_000);
    const metrics = await scrape(adminPort);
    assert.match(metrics, /pgmoat_renewals_total\{outcome="renewed",reason="none"\} 1/);
    assert.ok(metricValue(metrics, 'pgmoat_server_certificate_renewals_total{outcome="renewed"}') >= 1, metrics);
    // Both workers put the renewed pair in force (each watches the files) and serve clients with it.
    // (A later renewal may come first: any renewed serial counts.)
    const workersLoaded = () => {
      const renewed = new Set(cluster.events('renewal').filter((l) => l.kind === 'server').map((l) => l.new_serial));
      return new Set(cluster.events('tls_files_reloaded').filter((l) => renewed.has(l.serial) && l.worker !== undefined).map((l) => l.worker));
    };
    await waitFor(() => workersLoaded().size === 2, 'both workers to load a renewed pair', 20_000).catch((err: Error) => {
      throw new Error(`${err.message}\n${cluster.output().split('\n').filter((l) => /tls_|renewal|server_cert/.test(l)).join('\n')}`);
    });
    const q = await psql(conninfo(port, { user: 'app', dbname: 'appdb', host: 'localhost', cert: { certPath: app.certPath, keyPath: app.keyPath, caPath: pki.main.caPath } }), 'SELECT 1');
    assert.equal(q.stdout, '1', q.stderr);
    // SIGHUP to the primary moves its renewal listener too.
    const movedPort = await freePort();
    const config = gatewayConfig({ port, adminPort, renewalPort: movedPort, ...files, renewal: { server_certificate: { renew_at: 0.1 } } });
    writeConfig(dir, config);
    cluster.proc.kill('SIGHUP');
    await waitFor(async () => (await curl(`https://localhost:${movedPort}/v1/ca`, { cacert: pki.main.caPath })).status === 200, 'the renewal listener on its new port', 20_000);
  } finally {
    assert.equal(await cluster.stop('SIGTERM'), 0, cluster.output());
  }
});

test('SIGHUP and RELOAD apply a changed renewal: setting (rate limit, port) without a restart; an impossible one is reported', async () => {
  const dir = workDir();
  const files = serverCopy(join(dir, 'gw'), pki.server);
  const [port, adminPort, renewalPort] = [await freePort(), await freePort(), await freePort()];
  const base = gatewayConfig({ port, adminPort, renewalPort, ...files, renewal: { rate_limit: { max: 1, window: '1h' } } });
  const config: Record<string, unknown> = { ...base, admin: { ...(base.admin as Record<string, unknown>), identities: ['ops'] } };
  const configPath = writeConfig(dir, config);
  const proc = await startGatewayProcess(configPath);
  const app = await pki.client('hup');
  let cert = app.certPath;
  let key = app.keyPath;
  const renew = async (name: string) => {
    const { csrPath, keyPath } = opensslCsr(dir, name, '/CN=hup');
    const answer = await curl(`https://localhost:${renewalPort}/v1/renew`, { cert, key, cacert: pki.main.caPath, dataFile: csrPath });
    if (answer.status === 200) {
      cert = join(dir, `${name}.crt`);
      writeFileSync(cert, answer.body);
      key = keyPath;
    }
    return answer;
  };
  try {
    await waitFor(() => proc.output().includes('"event":"renewal_listening"'), 'the renewal listener', 20_000);
    assert.equal((await renew('hup1')).status, 200);
    const limited = await renew('hup2');
    assert.equal(limited.status, 429, limited.body);
    writeConfig(dir, { ...config, renewal: { ...(config.renewal as Record<string, unknown>), rate_limit: { max: 5, window: '1h' } } });
    proc.proc.kill('SIGHUP');
    await waitFor(() => jsonLogLines(proc.output()).some((l) => l.event === 'reload' && l.outcome === 'ok'), 'the reload', 20_000);
    // The identity renews again once the new limit is in force (the old one stays 429 for an hour).
    let again = limited;
    let attempt = 0;
    await waitFor(async () => (again = await renew(`hup-again-${attempt++}`)).status === 200, 'a renewal under the reloaded rate limit', 20_000).catch((err: Error) => {
      throw new Error(`${err.message}: last answer ${again.status} ${again.body}`);
    });
    const reloaded = jsonLogLines(proc.output()).find((l) => l.event === 'renewal_reloaded');
    assert.deepEqual(reloaded?.changed, ['rateLimit']);

    // The console's RELOAD moves the listener to another port: the new one answers, the old one is closed.
    const ops = await pki.client('ops');
    const movedPort = await freePort();
    writeConfig(dir, { ...config, admin: { ...(config.admin as Record<string, unknown>), identities: ['ops'] }, renewal: { ...(config.renewal as Record<string, unknown>), port: movedPort } });
    const r = await psql(adminConn(port, ops), 'RELOAD');
    assert.equal(r.code, 0, r.stderr);
    const moved = await curl(`https://localhost:${movedPort}/v1/ca`, { cacert: pki.main.caPath });
    assert.equal(moved.status, 200, moved.stderr);
    const old = await curl(`https://localhost:${renewalPort}/v1/ca`, { cacert: pki.main.caPath });
    assert.notEqual(old.exit, 0, 'the old port is closed');

    // A port that cannot be opened: RELOAD says so and the listener in force keeps serving.
    const blocker = createServer().listen(0, '127.0.0.1');
    await once(blocker, 'listening');
    try {
      const taken = (blocker.address() as AddressInfo).port;
      writeConfig(dir, { ...config, admin: { ...(config.admin as Record<string, unknown>), identities: ['ops'] }, renewal: { ...(config.renewal as Record<string, unknown>), port: taken } });
      const refused = await psql(adminConn(port, ops), 'RELOAD');
      assert.notEqual(refused.code, 0);
      assert.match(refused.stderr, /renewal: could not follow it \(port\)/);
      assert.equal((await curl(`https://localhost:${movedPort}/v1/ca`, { cacert: pki.main.caPath })).status, 200);
    } finally {
      blocker.close();
    }
  } finally {
    assert.equal(await proc.stop('SIGTERM'), 0, proc.output());
  }
});
