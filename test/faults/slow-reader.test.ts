/**
 * A client that asks for a large result and stops reading: pgmoat holds its server back
 * instead of buffering the result (bounded memory), the other clients of the pool are served
 * meanwhile, and when that client hangs up its half-read server connection is closed, never
 * handed to anyone else.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import type { ClientFiles } from '../harness/cert-factory.js';
import type { RunningGateway } from '../harness/gateway.js';
import { logEvents, nodeSsl, useAppGateway, waitFor } from '../gateway/helpers.js';
import { login, openTls, queryMessage } from '../gateway/raw-wire.js';

let gw: RunningGateway;
let app: ClientFiles;

useAppGateway({ gateway: { pool_mode: 'transaction' }, database: { pool_size: 2 } }, (parts) => {
  ({ gw, app } = parts);
});

test('a client that stops reading a 200 MB result holds only its own server, with bounded buffers', async () => {
  const slow = await openTls(gw.port, { cert: app });
  await login(slow, { user: 'app', database: 'appdb' });
  // Stop reading at once: everything after this stays in the kernel's buffers or is never sent.
  slow.socket.pause();
  slow.write(queryMessage("SELECT repeat('x', 1000) FROM generate_series(1, 200000)"));
  const pool = gw.gateway.pools.get('appdb/app')!;
  await waitFor(() => pool.activeServers.size === 1, 'the slow client to hold a server');
  const server = [...pool.activeServers][0]!;
  await waitFor(() => server.socket.isPaused(), 'pgmoat to stop reading the server for the slow client', 20_000);
  const client = server.client!;
  const held = client.socket.writableLength;
  // What pgmoat holds for the slow client is about one read of the server, not the result.
  assert.ok(held < 4 * 1024 * 1024, `pgmoat buffers ${held} bytes for a client that does not read`);

  const other = new pg.Client({ host: '127.0.0.1', port: gw.port, user: 'app', database: 'appdb', ssl: nodeSsl(app), query_timeout: 20_000 });
  await other.connect();
  for (let i = 0; i < 50; i++) {
    const r = await other.query<{ n: number }>('SELECT $1::int AS n', [i]);
    assert.equal(r.rows[0]!.n, i);
  }
  assert.ok(server.socket.isPaused(), 'the slow client still holds its server back');

  slow.destroy();
  await waitFor(() => server.phase === 'closed', 'the half-read server connection to close');
  assert.ok(logEvents(gw, 'server_closed').some((l) => l.reason === 'client left while the server was busy'));
  const r = await other.query<{ one: number }>('SELECT 1 AS one');
  assert.equal(r.rows[0]!.one, 1);
  await other.end();
});
