/**
 * Cancels between gateways (peer_id, peers): three real `pgmoat serve` processes in front of one
 * PostgreSQL, two of them with --workers 2. A CancelRequest sent to a gateway that does not hold
 * the session reaches the one that does; a wrong secret, an unknown peer and a peer that is down
 * cancel nothing and leave the gateways serving. A byte recorder stands in for a peer whose
 * listener wants a PROXY v2 header, to see the exact bytes sent.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:net';
import pg from 'pg';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { makePki, type ClientFiles, type Pki } from '../harness/cert-factory.js';
import { cleanupDir, startGatewayProcess, writeConfig } from '../harness/gateway.js';
import { freePort } from '../harness/free-port.js';
import { jsonLogLines } from '../harness/tls-probe.js';
import { clientTlsSection, nodeSsl, plainUpstream, waitFor } from '../gateway/helpers.js';
import { RawConn, cancelRequest } from '../gateway/raw-wire.js';
import { startCluster, type ClusterGateway } from './helpers.js';

interface Gw {
  readonly port: number;
  readonly configPath: string;
  readonly config: Record<string, unknown>;
  logs(): Record<string, unknown>[];
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  readonly pid: number;
}

let upstream: PgServer;
let pki: Pki;
let app: ClientFiles;
let dir: string;
let monitor: pg.Client;
const gws: Gw[] = [];
/** Peer 4 is listed everywhere but nothing listens on its port. */
let downPort: number;
/** Peers 5 (send_proxy_v2) and 6 (plain): a recorder of the bytes each connection sends. */
let recorder: Server;
let recorderPort: number;
const recorded: Buffer[] = [];

function peersBlock(ports: number[]): Record<string, unknown> {
  return {
    1: { host: '127.0.0.1', port: ports[0] },
    2: { host: '127.0.0.1', port: ports[1] },
    3: { host: '127.0.0.1', port: ports[2] },
    4: { host: '127.0.0.1', port: downPort },
    5: { host: '127.0.0.1', port: recorderPort, send_proxy_v2: true },
  };
}

before(async () => {
  pki = await makePki();
  upstream = await startPostgres({ setupSql: 'CREATE ROLE app LOGIN; CREATE DATABASE appdb OWNER app;' });
  app = await pki.client('app');
  dir = mkdtempSync(join(tmpdir(), 'pgmoat-peers-'));
  chmodSync(dir, 0o700);
  downPort = await freePort();
  recorder = createServer((s) => {
    const chunks: Buffer[] = [];
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('end', () => {
      recorded.push(Buffer.concat(chunks));
      s.end();
    });
  });
  await new Promise<void>((resolve) => recorder.listen(0, '127.0.0.1', resolve));
  recorderPort = (recorder.address() as { port: number }).port;
  const ports = [await freePort(), await freePort(), await freePort()];
  // Peers 1 and 2 with two workers each, peer 3 a single process.
  for (const [i, port] of ports.entries()) {
    const sub = mkdtempSync(join(dir, `gw${i + 1}-`));
    const config = {
      listen: { host: '127.0.0.1', port },
      log: { level: 'debug' },
      peer_id: i + 1,
      peers: peersBlock(ports),
      tls: clientTlsSection(pki),
      databases: { appdb: plainUpstream(upstream, 'appdb', { pool_size: 8 }) },
    };
    const configPath = writeConfig(sub, config);
    if (i < 2) {
      const c: ClusterGateway = await startCluster(configPath, 2);
      gws.push({ port, configPath, config, logs: c.logs, stop: c.stop, pid: c.proc.pid! });
    } else {
      const p = await startGatewayProcess(configPath);
      gws.push({ port, configPath, config, logs: () => jsonLogLines(p.output()), stop: p.stop, pid: p.proc.pid! });
    }
  }
  monitor = new pg.Client({ host: '127.0.0.1', port: upstream.port, user: 'postgres', database: 'postgres' });
  await monitor.connect();
});

after(async () => {
  await monitor?.end();
  for (const g of gws) await g.stop();
  await new Promise<void>((resolve) => (recorder ? recorder.close(() => resolve()) : resolve()));
  await upstream?.stop();
  pki?.cleanup();
  if (dir) cleanupDir(dir);
});

const config = (port: number): pg.ClientConfig => ({ host: '127.0.0.1', port, user: 'app', database: 'appdb', ssl: nodeSsl(app) });

function keyOf(client: pg.Client): { pid: number; secret: number } {
  const c = client as unknown as { processID: number; secretKey: number };
  return { pid: c.processID, secret: c.secretKey };
}

async function running(marker: string): Promise<void> {
  await waitFor(async () => {
    const r = await monitor.query<{ n: string }>("SELECT count(*) AS n FROM pg_stat_activity WHERE state = 'active' AND query LIKE $1 AND pid <> pg_backend_pid()", [
      `%${marker} %`,
    ]);
    return r.rows[0]!.n !== '0';
  }, `the upstream to run ${marker}`);
}

async function sendCancel(port: number, pid: number, secret: number): Promise<void> {
  const conn = await RawConn.open(port);
  conn.write(cancelRequest(pid, secret));
  assert.ok(await conn.waitClosed(), 'the gateway closes the cancel connection');
  assert.equal(conn.received.length, 0, 'a cancel gets no answer');
}

async function stillServes(port: number): Promise<void> {
  const c = new pg.Client(config(port));
  await c.connect();
  try {
    assert.equal((await c.query<{ n: number }>('SELECT 6 * 7 AS n')).rows[0]!.n, 42);
  } finally {
    await c.end();
  }
}

test('a CancelRequest sent to another gateway cancels the session where it lives (57014), both ways and across workers', async () => {
  // Each pair (holder, receiver) four times: with two workers on each side the session and
  // the cancel land on either worker.
  const pairs: [number, number][] = [
    [0, 1],
    [1, 0],
    [0, 2],
    [2, 1],
  ];
  let n = 0;
  for (const [holder, receiver] of pairs) {
    for (let i = 0; i < 4; i++) {
      const marker = `peer-cancel-${n++}`;
      const client = new pg.Client(config(gws[holder]!.port));
      await client.connect();
      try {
        const outcome = client.query(`SELECT pg_sleep(30) /* ${marker} */`).then(
          () => undefined,
          (err: Error & { code?: string }) => err,
        );
        await running(marker);
        const { pid, secret } = keyOf(client);
        if (i === 0) {
          // node-postgres's own cancel, pointed at the other gateway.
          const canceller = new pg.Client(config(gws[receiver]!.port));
          (canceller as unknown as { cancel(c: pg.Client, q: unknown): void }).cancel(client, (client as unknown as { activeQuery: unknown }).activeQuery);
        } else {
          await sendCancel(gws[receiver]!.port, pid, secret);
        }
        const err = await outcome;
        assert.equal(err?.code, '57014', `${marker} (gateway ${holder + 1} holds it, cancel sent to ${receiver + 1}): ${err?.message ?? 'not cancelled'}`);
        assert.equal((await client.query<{ n: number }>('SELECT 1 AS n')).rows[0]!.n, 1, 'the session goes on');
      } finally {
        await client.end();
      }
    }
  }
  for (const g of gws) assert.equal(g.logs().filter((l) => l.event === 'peer_cancel_failed').length, 0);
});

test('a wrong secret sent to another gateway cancels nothing', async () => {
  const client = new pg.Client(config(gws[0]!.port));
  await client.connect();
  try {
    const query = client.query<{ done: string }>("SELECT pg_sleep(1.5), 'finished' AS done /* peer-wrong-secret */");
    await running('peer-wrong-secret');
    const { pid, secret } = keyOf(client);
    for (const receiver of [1, 2, 1]) await sendCancel(gws[receiver]!.port, pid, (secret + 1) | 0);
    assert.equal((await query).rows[0]!.done, 'finished');
  } finally {
    await client.end();
  }
});

test('a pid of a peer not in the list is dropped (debug line); the gateway goes on', async () => {
  const pid = 9 * 2 ** 23 + 12345; // peer 9: listed nowhere
  await sendCancel(gws[2]!.port, pid, 77);
  await waitFor(() => gws[2]!.logs().some((l) => l.event === 'cancel_unknown_peer' && l.peer === 9), 'the debug line');
  await stillServes(gws[2]!.port);
});

test('a peer that is down: one warn line without the secret, the gateway goes on', async () => {
  const pid = 4 * 2 ** 23 + 999;
  const secret = 0x5eedbeef | 0;
  await sendCancel(gws[2]!.port, pid, secret);
  await waitFor(() => gws[2]!.logs().some((l) => l.event === 'peer_cancel_failed' && l.peer === 4), 'the warn line');
  const line = gws[2]!.logs().find((l) => l.event === 'peer_cancel_failed')!;
  assert.equal(line.level, 40, 'warn');
  assert.equal(line.port, downPort);
  assert.ok(!JSON.stringify(gws[2]!.logs()).includes(String(secret)), 'the secret is never logged');
  await stillServes(gws[2]!.port);
});

test('send_proxy_v2: the peer gets a PROXY v2 LOCAL header, then the 16-byte CancelRequest', async () => {
  const before = recorded.length;
  const pid = 5 * 2 ** 23 + 4242;
  await sendCancel(gws[1]!.port, pid, -123456);
  await waitFor(() => recorded.length > before, 'the recorder to get the forward');
  const got = recorded[before]!;
  const header = Buffer.concat([Buffer.from('\r\n\r\n\0\r\nQUIT\n', 'latin1'), Buffer.from([0x20, 0x00, 0x00, 0x00])]);
  assert.deepEqual(got, Buffer.concat([header, cancelRequest(pid, -123456)]));
});

test('SIGHUP: a peer added to the list is forwarded to; a changed peer_id is refused with a warning', async () => {
  const g = gws[2]!;
  const pid = 6 * 2 ** 23 + 31;
  await sendCancel(g.port, pid, 1);
  await waitFor(() => g.logs().some((l) => l.event === 'cancel_unknown_peer' && l.peer === 6), 'peer 6 unknown at first');
  const before = recorded.length;
  const peers = { ...(g.config.peers as Record<string, unknown>), 6: { host: '127.0.0.1', port: recorderPort } };
  writeConfig(join(g.configPath, '..'), { ...g.config, peers, peer_id: 7 });
  const reloads = g.logs().filter((l) => l.event === 'reload').length;
  process.kill(g.pid, 'SIGHUP');
  await waitFor(() => g.logs().filter((l) => l.event === 'reload').length > reloads, 'the reload');
  assert.ok(g.logs().some((l) => l.event === 'peer_id_change_ignored' && l.peer_id === 3 && l.configured === 7));
  await sendCancel(g.port, pid, 2);
  await waitFor(() => recorded.length > before, 'the recorder to get the forward to peer 6');
  assert.deepEqual(recorded[before], cancelRequest(pid, 2), 'no PROXY header without send_proxy_v2');
  // Still peer 3: a session's key names it, and a cancel sent to peer 1 comes back here.
  const client = new pg.Client(config(g.port));
  await client.connect();
  try {
    assert.equal(Math.floor(keyOf(client).pid / 2 ** 23), 3);
    const outcome = client.query('SELECT pg_sleep(30) /* peer-after-reload */').then(
      () => undefined,
      (err: Error & { code?: string }) => err,
    );
    await running('peer-after-reload');
    await sendCancel(gws[0]!.port, keyOf(client).pid, keyOf(client).secret);
    assert.equal((await outcome)?.code, '57014');
  } finally {
    await client.end();
  }
});
