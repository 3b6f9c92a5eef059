/**
 * Changes without downtime: PostgreSQL restarted during a load run (idle clients notice nothing,
 * new transactions succeed once it is back, pgmoat keeps running), and a reload with a new server
 * certificate, a new CA bundle and a new CRL during a load run with zero failed transactions.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect, type PeerCertificate } from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { makePki, type Pki, type ClientFiles } from '../harness/cert-factory.js';
import { startGateway, startGatewayProcess, writeConfig, cleanupDir, type RunningGateway } from '../harness/gateway.js';
import { freePort } from '../harness/free-port.js';
import { nodeSsl, plainUpstream, waitFor } from '../gateway/helpers.js';
import { issueServer } from '../../src/ca/index.js';
import { psql, conninfo } from '../harness/psql.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';

let pgs: PgServer;
let pki: Pki;
let app: ClientFiles;

before(async () => {
  pki = await makePki();
  app = await pki.client('app');
  pgs = await startPostgres({ setupSql: 'CREATE ROLE app LOGIN; CREATE DATABASE appdb OWNER app;' });
});

after(async () => {
  await pgs?.stop();
  pki?.cleanup();
});

async function connected(port: number, c: ClientFiles = app): Promise<pg.Client> {
  const client = new pg.Client({ host: '127.0.0.1', port, user: c.name, database: 'appdb', ssl: nodeSsl(c) });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}

/** The certificate a new client sees from the gateway (SSLRequest, then TLS). */
function gatewayCertificate(port: number): Promise<PeerCertificate> {
  return new Promise((resolve, reject) => {
    const raw = netConnect(port, '127.0.0.1', () => raw.write(Buffer.from([0, 0, 0, 8, 4, 210, 22, 47])));
    raw.once('data', (d) => {
      if (d[0] !== 0x53) return reject(new Error('no TLS'));
      const s = tlsConnect({ socket: raw, ca: readFileSync(app.caPath), servername: 'localhost', cert: app.certPem, key: app.keyPem }, () => {
        resolve(s.getPeerCertificate());
        s.destroy();
      });
      s.on('error', reject);
    });
    raw.on('error', reject);
  });
}

/** Clients running one-statement transactions until stopped; counts successes and failures. */
function loadRun(clients: pg.Client[]): { stop(): Promise<{ ok: number; failed: string[] }> } {
  let running = true;
  let ok = 0;
  const failed: string[] = [];
  const loops = clients.map(async (c, i) => {
    while (running) {
      try {
        const r = await c.query('SELECT $1::int + 1 AS v', [i]);
        assert.equal(r.rows[0].v, i + 1);
        ok++;
      } catch (e) {
        failed.push(String(e));
        return;
      }
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      return { ok, failed };
    },
  };
}

test('PostgreSQL restarted under load: idle clients notice nothing, new transactions succeed after, no pgmoat restart', async () => {
  const gw = await startGateway({
    tls: { mode: 'verify-full', cert: pki.server.certPath, key: pki.server.keyPath, ca: pki.main.caPath, crl: pki.crlPath },
    pool_mode: 'transaction',
    databases: { appdb: plainUpstream(pgs, 'appdb', { pool_size: 4 }) },
  });
  try {
    const idle = await Promise.all(Array.from({ length: 5 }, () => connected(gw.port)));
    for (const c of idle) await c.query('SELECT 1');
    const busy = await Promise.all(Array.from({ length: 5 }, () => connected(gw.port)));
    const run = loadRun(busy);
    await sleep(500);
    await pgs.restart();
    const during = await run.stop();
    assert.ok(during.ok > 0);
    // Clients that were between transactions keep their connection and just go on: their very
    // first query after the restart succeeds.
    for (const c of idle) assert.equal((await c.query('SELECT 2 AS v')).rows[0].v, 2);
    // New clients work too, through the same pgmoat.
    const fresh = await connected(gw.port);
    assert.equal((await fresh.query('SELECT 3 AS v')).rows[0].v, 3);
    await Promise.all([...idle, fresh].map((c) => c.end()));
    await Promise.all(busy.map((c) => c.end().catch(() => undefined)));
  } finally {
    await gw.stop();
  }
});

test('reload under load: new server certificate, new CA bundle, new CRL, zero failed transactions', async () => {
  const bundlePath = join(pki.dir, 'bundle.crt');
  writeFileSync(bundlePath, readFileSync(pki.main.caPath));
  const config = {
    tls: { mode: 'verify-full', cert: pki.server.certPath, key: pki.server.keyPath, ca: bundlePath, crl: pki.crlPath },
    pool_mode: 'transaction',
    databases: { appdb: { ...plainUpstream(pgs, 'appdb', { pool_size: 3 }), environment: undefined } },
  };
  const gw: RunningGateway = await startGateway(config);
  try {
    const victim = await pki.client('victim');
    const outsider = await pki.client('outsider', { ca: 'foreign' });
    pgs.sql('CREATE ROLE victim LOGIN; CREATE ROLE outsider LOGIN;');
    const before = await gatewayCertificate(gw.port);
    await assert.rejects(connected(gw.port, outsider), /certificate/);

    const clients = await Promise.all(Array.from({ length: 8 }, () => connected(gw.port)));
    const run = loadRun(clients);
    await sleep(300);
    // 1. The gateway's own certificate is re-issued and picked up.
    await issueServer(pki.main.authority);
    await gw.reload();
    await sleep(300);
    const after1 = await gatewayCertificate(gw.port);
    assert.notEqual(after1.fingerprint256, before.fingerprint256, 'new clients see the new server certificate');
    // 2. A CA bundle that also trusts the foreign CA.
    writeFileSync(bundlePath, readFileSync(pki.main.caPath, 'utf8') + readFileSync(pki.foreign.caPath, 'utf8'));
    await gw.reload();
    const o = await connected(gw.port, outsider);
    assert.equal((await o.query('SELECT current_user AS u')).rows[0].u, 'outsider');
    await o.end();
    // 3. A new CRL: the revoked identity is refused from now on.
    await pki.revoke('victim');
    await gw.reload();
    await assert.rejects(connected(gw.port, victim), /revoked/);
    await sleep(300);
    const result = await run.stop();
    assert.deepEqual(result.failed, [], 'no transaction failed during the reloads');
    assert.ok(result.ok > 50, `transactions ran during the reloads (${result.ok})`);
    await Promise.all(clients.map((c) => c.end()));
  } finally {
    await gw.stop();
  }
});

test('SIGHUP to pgmoat serve reloads; a config that does not validate is refused and the running one stays', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgmoat-hup-'));
  const port = await freePort();
  const good = {
    listen: { host: '127.0.0.1', port },
    log: { level: 'info', format: 'json' },
    tls: { mode: 'verify-full', cert: pki.server.certPath, key: pki.server.keyPath, ca: pki.main.caPath, crl: pki.crlPath },
    databases: { appdb: plainUpstream(pgs, 'appdb') },
  };
  const path = writeConfig(dir, good);
  const gw = await startGatewayProcess(path);
  try {
    const conn = conninfo(port, { user: 'app', dbname: 'appdb', cert: app });
    assert.equal((await psql(conn, 'SELECT 1')).stdout, '1');
    writeConfig(dir, { ...good, databases: { appdb: { ...plainUpstream(pgs, 'appdb'), port: 'not-a-port' } } });
    gw.proc.kill('SIGHUP');
    await waitFor(() => gw.output().includes('"outcome":"refused"'), 'the refused reload to be logged');
    assert.match(gw.output(), /databases\.appdb\.port/);
    assert.equal((await psql(conn, 'SELECT 2')).stdout, '2', 'the running configuration stays');
    writeConfig(dir, { ...good, databases: { appdb: plainUpstream(pgs, 'appdb'), other: plainUpstream(pgs, 'appdb') } });
    gw.proc.kill('SIGHUP');
    await waitFor(() => gw.output().includes('"outcome":"ok"'), 'the reload to be logged');
    assert.equal((await psql(conninfo(port, { user: 'app', dbname: 'other', cert: app }), 'SELECT 3')).stdout, '3', 'the new database is served');
    assert.equal(await gw.stop('SIGTERM'), 0);
  } finally {
    await gw.stop('SIGKILL');
    cleanupDir(dir);
  }
});
