/**
 * A client refused after query_wait_timeout keeps its session, and pgmoat answers what it sends
 * meanwhile (ERROR and ReadyForQuery) by itself. A client that keeps a batch open and sends
 * Syncs without reading must not make pgmoat buffer those answers without bound: reading stops
 * until it drains (before the fix: 135 MB held for 2 MB sent).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { waitFor } from '../gateway/helpers.js';
import { login, openTls, typedMessage } from '../gateway/raw-wire.js';
import { appClient, useFaultSetup, withGateway } from './helpers.js';

const setup = useFaultSetup();

test('a refused client that does not read cannot make pgmoat buffer without bound', async () => {
  await withGateway(setup, { pool_mode: 'transaction', query_wait_timeout: '1s' }, { pool_size: 1 }, async (gw) => {
    const holder = appClient(setup, gw);
    await holder.connect();
    await holder.query('BEGIN'); // the pool's one server stays taken
    const conn = await openTls(gw.port, { cert: setup.app });
    try {
      await login(conn, { user: 'app', database: 'appdb' });
      const pool = gw.gateway.pools.get('appdb/app')!;
      const parse = typedMessage('P', Buffer.from('\0SELECT 1\0\0\0', 'latin1'));
      conn.write(parse); // waits for a server, refused after query_wait_timeout; the batch stays open
      await waitFor(() => pool.idleClients.size === 1 && pool.waitingClients.length === 0 && conn.messages().some((m) => m.type === 'E'), 'the refusal', 10_000);
      const session = [...pool.idleClients][0]!;
      conn.socket.pause(); // stop reading
      const sync = typedMessage('S');
      const chunk = Buffer.concat([...Array<Buffer>(10_000).fill(sync), parse]); // 50 KB
      for (let i = 0; i < 40; i++) {
        conn.write(chunk);
        await sleep(20);
      }
      await sleep(500);
      const buffered = session.socket.writableLength;
      assert.ok(buffered < 8e6, `pgmoat buffered ${buffered} bytes for a client that does not read`);
    } finally {
      conn.destroy();
      await holder.query('ROLLBACK').catch(() => undefined);
      await holder.end().catch(() => undefined);
    }
  });
});
