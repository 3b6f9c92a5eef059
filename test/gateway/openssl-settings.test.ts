/**
 * The `pgmoat` command (bin/pgmoat) starts Node with bin/openssl.cnf: one TLS 1.3 session
 * ticket per full handshake instead of OpenSSL's two, and resumption still works with it.
 * The same build started with a bare `node` sends two: the setting is what makes the difference.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as netConnect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { makePki, type ClientFiles, type Pki } from '../harness/cert-factory.js';
import { startGatewayProcess, writeConfig, type GatewayLauncher } from '../harness/gateway.js';
import { freePort } from '../harness/free-port.js';
import { SSL_REQUEST, startupPacket, parseMessages } from './raw-wire.js';
import { clientTlsSection, nodeSsl, plainUpstream } from './helpers.js';

const ROOT = new URL('../..', import.meta.url).pathname;

let upstream: PgServer;
let pki: Pki;
let app: ClientFiles;
let dir: string;

before(async () => {
  if (!existsSync(join(ROOT, 'dist/src/cli/main.js'))) throw new Error('dist/ is missing: run `npm run build` (npm ci does it)');
  pki = await makePki();
  upstream = await startPostgres({ setupSql: 'CREATE ROLE app LOGIN; CREATE DATABASE appdb OWNER app;' });
  app = await pki.client('app');
  dir = mkdtempSync(join(tmpdir(), 'pgmoat-ossl-'));
  chmodSync(dir, 0o700);
});
after(async () => {
  await upstream?.stop();
  pki?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Visit {
  tickets: number;
  reused: boolean;
  session: Buffer | undefined;
  /** Backend message types up to ReadyForQuery or an error. */
  types: string;
}

/** SSLRequest, mutual TLS 1.3, a login and Terminate; counts the session tickets that arrived. */
function visit(port: number, session?: Buffer): Promise<Visit> {
  return new Promise((resolve, reject) => {
    const raw = netConnect({ host: '127.0.0.1', port });
    raw.once('error', reject);
    raw.once('connect', () => raw.write(SSL_REQUEST));
    raw.once('data', (answer: Buffer) => {
      if (answer[0] !== 0x53) return reject(new Error(`SSLRequest answered ${answer.toString('hex')}`));
      const s = tlsConnect({ socket: raw, host: '127.0.0.1', servername: 'localhost', ...nodeSsl(app), minVersion: 'TLSv1.3', ...(session ? { session } : {}) });
      let tickets = 0;
      let latest: Buffer | undefined;
      let received = Buffer.alloc(0);
      s.on('session', (t: Buffer) => {
        tickets++;
        latest = t;
      });
      let done: Visit | undefined;
      // Once the answer is in, a reset as the gateway closes after Terminate is no failure.
      s.on('error', (e) => {
        if (done === undefined) reject(e);
      });
      s.once('close', () => (done ? resolve(done) : reject(new Error(`closed after ${received.length} bytes`))));
      s.once('secureConnect', () => s.write(startupPacket({ user: 'app', database: 'appdb' })));
      s.on('data', (d: Buffer) => {
        received = Buffer.concat([received, d]);
        const msgs = parseMessages(received);
        if (!msgs.some((m) => m.type === 'Z' || m.type === 'E')) return;
        if (done !== undefined) return;
        // Tickets come right after the handshake, before any answer to the login: all are in.
        done = { tickets, reused: s.isSessionReused(), session: latest, types: msgs.map((m) => m.type).join('') };
        s.end(Buffer.from([0x58, 0, 0, 0, 4]));
      });
    });
  });
}

async function withGateway<T>(launcher: GatewayLauncher, fn: (port: number) => Promise<T>): Promise<T> {
  const port = await freePort();
  const configPath = writeConfig(dir, {
    listen: { host: '127.0.0.1', port },
    tls: clientTlsSection(pki),
    databases: { appdb: plainUpstream(upstream, 'appdb') },
  });
  const gw = await startGatewayProcess(configPath, launcher);
  try {
    return await fn(port);
  } finally {
    assert.equal(await gw.stop(), 0, gw.output());
  }
}

test('the pgmoat command sends one session ticket per full handshake, and that ticket resumes', async () => {
  await withGateway('bin', async (port) => {
    const first = await visit(port);
    assert.match(first.types, /Z$/, `login through bin/pgmoat: ${first.types}`);
    assert.equal(first.tickets, 1);
    assert.equal(first.reused, false);
    const again = await visit(port, first.session);
    assert.equal(again.reused, true, 'the one ticket resumes the next connection');
    assert.match(again.types, /Z$/);
  });
});

test('the same build under a bare node sends OpenSSL\'s default two tickets', async () => {
  await withGateway('dist', async (port) => {
    const first = await visit(port);
    assert.match(first.types, /Z$/);
    assert.equal(first.tickets, 2);
  });
});
