/**
 * query_timeout counts from when a request reaches a server, not from when it arrived: a client
 * that waited longer than query_timeout for a server and then runs a short statement is not
 * told that its statement failed (before the fix it got FATAL 57014 for a statement that had
 * committed).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { waitFor } from '../gateway/helpers.js';
import { appClient, useFaultSetup, withGateway } from './helpers.js';

const setup = useFaultSetup();

test('a request that waited in the queue is not cut by query_timeout for time it spent waiting', async () => {
  await withGateway(setup, { pool_mode: 'transaction', query_timeout: '2s', query_wait_timeout: '30s' }, { pool_size: 1 }, async (gw) => {
    const holder = appClient(setup, gw);
    const waiter = appClient(setup, gw);
    await holder.connect();
    await waiter.connect();
    await holder.query('CREATE TABLE IF NOT EXISTS review_qt (n int)');
    await holder.query('BEGIN');
    const pool = gw.gateway.pools.get('appdb/app')!;
    // A statement of 1 s, well under query_timeout (2 s), sent while the pool's one server is taken.
    const r = waiter.query('INSERT INTO review_qt SELECT 1 FROM pg_sleep(1)').then(
      () => undefined,
      (e: Error & { code?: string }) => e,
    );
    await waitFor(() => pool.waitingClients.length === 1, 'the waiter queues');
    await sleep(3000); // it waits longer than query_timeout
    await holder.query('COMMIT');
    const err = await r;
    await sleep(2000); // the backend finishes its statement
    const d = new pg.Client({ host: '127.0.0.1', port: setup.upstream.port, user: 'app', database: 'appdb' });
    await d.connect();
    const rows = (await d.query('SELECT count(*)::int AS n FROM review_qt')).rows[0].n as number;
    await d.end();
    await holder.end().catch(() => undefined);
    assert.equal(err, undefined, 'the 1 s statement must not fail with query_timeout 2 s');
  });
});
