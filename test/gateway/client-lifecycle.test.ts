/**
 * Clients that come and go while the pool is busy: logging in does not need a free server
 * connection (the pool knows the server parameters already), and a client that leaves without
 * having used a server leaves at once instead of queueing for one just to say goodbye.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import type { PgServer } from '../harness/postgres.js';
import type { ClientFiles, Pki } from '../harness/cert-factory.js';
import type { RunningGateway } from '../harness/gateway.js';
import { nodeSsl, pgSocket, useAppGateway, waitFor } from './helpers.js';
import { TERMINATE, login, openTls } from './raw-wire.js';

let upstream: PgServer;
let pki: Pki;
let gw: RunningGateway;
let app: ClientFiles;

useAppGateway({ database: { pool_size: 1 } }, (parts) => {
  ({ pki, upstream, app, gw } = parts);
});

async function connected(): Promise<pg.Client> {
  const c = new pg.Client({ host: '127.0.0.1', port: gw.port, user: 'app', database: 'appdb', ssl: nodeSsl(app) });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

/** Session mode: a client that has run a query keeps the only server connection until it leaves. */
async function holdTheServer(): Promise<{ release(): Promise<void> }> {
  const holder = await connected();
  await holder.query('SELECT 1');
  await waitFor(() => gw.gateway.pools.get('appdb/app')!.activeServers.size === 1, 'the server to be taken');
  return { release: () => holder.end() };
}

test('while the only server connection is taken: a new client logs in at once, and pg end() leaves without queueing', async () => {
  const hold = await holdTheServer();
  try {
    const order: string[] = [];
    const c = await connected();
    order.push('logged in');
    const pool = gw.gateway.pools.get('appdb/app')!;
    const connectsBefore = pool.stats.serverConnects;
    await c.end();
    order.push('left');
    assert.deepEqual(order, ['logged in', 'left']);
    assert.equal(pool.stats.serverConnects, connectsBefore, 'no server connection opened for a goodbye');
    assert.equal(pool.waitingClients.length, 0);
    assert.equal(pool.activeServers.size, 1, 'the server was still taken when the client left');
  } finally {
    await hold.release();
  }
});

test('a raw Terminate from a client that never queried: closed, nothing queued', async () => {
  const hold = await holdTheServer();
  try {
    const conn = await openTls(gw.port, { cert: app });
    const m = await login(conn, { user: 'app', database: 'appdb' });
    assert.ok(m.some((x) => x.type === 'Z'));
    conn.write(TERMINATE);
    assert.ok(await conn.waitClosed(), 'the connection is closed after Terminate');
    assert.equal(gw.gateway.pools.get('appdb/app')!.waitingClients.length, 0);
  } finally {
    await hold.release();
  }
});

test('a client that drops its socket while waiting for a server leaves the queue', async () => {
  const hold = await holdTheServer();
  try {
    const c = await connected();
    const pending = c.query('SELECT 1').catch(() => undefined);
    const pool = gw.gateway.pools.get('appdb/app')!;
    await waitFor(() => pool.waitingClients.length === 1, 'the client to wait');
    pgSocket(c).destroy();
    await waitFor(() => pool.waitingClients.length === 0 && pool.clientCount === 1, 'the queue to be empty');
    await pending;
  } finally {
    await hold.release();
  }
  // The server is free again and serves the next client.
  const next = await connected();
  assert.equal((await next.query<{ n: number }>('SELECT 5 AS n')).rows[0]!.n, 5);
  await next.end();
});
