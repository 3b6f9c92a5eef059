/**
 * Backpressure: a client that stops reading makes pgmoat stop reading its server connection,
 * instead of buffering the whole result in memory; when it reads again, every byte arrives.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect as tlsConnect } from 'node:tls';
import { connect as netConnect } from 'node:net';
import type { PgServer } from '../harness/postgres.js';
import type { ClientFiles, Pki } from '../harness/cert-factory.js';
import type { RunningGateway } from '../harness/gateway.js';
import { nodeSsl, useAppGateway, waitFor } from './helpers.js';
import { SSL_REQUEST, queryMessage, startupPacket } from './raw-wire.js';

let upstream: PgServer;
let pki: Pki;
let gw: RunningGateway;
let app: ClientFiles;

useAppGateway({ database: { pool_size: 1 } }, (parts) => {
  ({ pki, upstream, app, gw } = parts);
});

const ROWS = 50_000;
const ROW_BYTES = 1001; // 1000 characters and a newline

test('a client that stops reading a 50 MB COPY holds the server back; nothing is lost when it resumes', async () => {
  const raw = netConnect({ host: '127.0.0.1', port: gw.port });
  await new Promise<void>((resolve) => raw.once('connect', resolve));
  raw.write(SSL_REQUEST);
  await new Promise<void>((resolve) => raw.once('data', () => resolve()));
  const s = tlsConnect({ socket: raw, host: '127.0.0.1', servername: 'localhost', ...nodeSsl(app) });
  await new Promise<void>((resolve, reject) => {
    s.once('secureConnect', resolve);
    s.once('error', reject);
  });

  // Counts CopyData payload bytes, parsing frames without keeping the stream.
  let copyBytes = 0;
  let readyCount = 0;
  let pending: Buffer = Buffer.alloc(0);
  s.on('data', (chunk: Buffer) => {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    let i = 0;
    while (pending.length - i >= 5) {
      const len = pending.readInt32BE(i + 1);
      if (pending.length - i < len + 1) break;
      const type = pending[i];
      if (type === 0x64) copyBytes += len - 4;
      if (type === 0x5a) readyCount++;
      i += len + 1;
    }
    pending = pending.subarray(i);
  });
  s.write(startupPacket({ user: 'app', database: 'appdb' }));
  await waitFor(() => readyCount === 1, 'the login');

  s.pause(); // stop reading: the kernel buffers fill, then pgmoat's
  s.write(queryMessage(`COPY (SELECT repeat('q', 1000) FROM generate_series(1, ${ROWS})) TO STDOUT`));
  const pool = gw.gateway.pools.get('appdb/app')!;
  await waitFor(() => pool.activeServers.size === 1, 'the server to be linked');
  const server = [...pool.activeServers][0]!;
  const client = [...pool.activeClients][0]!;
  await waitFor(() => server.socket.isPaused(), 'pgmoat to stop reading the server', 20_000);
  // Held back: what pgmoat buffers for the client stays small, far below the 50 MB result.
  const buffered = client.socket.writableLength;
  assert.ok(buffered < 4 * 1024 * 1024, `pgmoat buffered ${buffered} bytes for a client that does not read`);
  assert.ok(copyBytes < ROWS * ROW_BYTES, 'the client has not read everything yet');

  s.resume();
  await waitFor(() => readyCount === 2, 'the end of the COPY', 60_000);
  assert.equal(copyBytes, ROWS * ROW_BYTES);
  s.destroy();
});
