/**
 * A client that hangs up while pgmoat is still applying its session settings on a server: that
 * server is closed, never handed to the next client with the SET still running (before the fix
 * the next client ran with the departed client's application_name, or got pgmoat's own
 * set_config() result as the answer to its query, and every later answer one behind).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor, pgSocket } from '../gateway/helpers.js';
import { appClient, backendPid, pause, resume, useFaultSetup, withGateway } from './helpers.js';

const setup = useFaultSetup();

test("a client that leaves during its settings query does not leave its settings to the next client", async () => {
  await withGateway(setup, { pool_mode: 'transaction', server_check_delay: '1h', internal_query_timeout: '5s' }, { pool_size: 1 }, async (gw) => {
    const b = appClient(setup, gw, { applicationName: 'second-client' });
    const a = appClient(setup, gw, { applicationName: 'leaked-from-a' });
    await b.connect();
    await a.connect();
    const pool = gw.gateway.pools.get('appdb/app')!;
    try {
      const pid = await backendPid(b); // the one server now carries b's application_name
      await waitFor(() => pool.idleServers.length === 1, 'server back in the pool');
      pause(pid);
      a.query('SELECT 1').catch(() => undefined); // a's settings query goes to the stopped backend
      await waitFor(() => pool.internalServers.size === 1, "a's settings query running");
      pgSocket(a).destroy();
      await waitFor(() => pool.clientCount === 1, 'a gone');
      const r = b.query<{ name: string; p: number }>("SELECT current_setting('application_name') AS name, pg_backend_pid() AS p");
      // Before the fix b waited for the stopped server, and got it back with a's SET once resumed.
      await new Promise((done) => setTimeout(done, 300));
      resume(pid);
      const row = (await r).rows[0]!;
      assert.equal(row.name, 'second-client', "b must not run with a's settings");
    } finally {
      await b.end().catch(() => undefined);
    }
  });
});

test('the next client whose own settings must be applied gets answers that belong to its queries', async () => {
  await withGateway(setup, { pool_mode: 'transaction', server_check_delay: '1h', internal_query_timeout: '5s' }, { pool_size: 1 }, async (gw) => {
    const b = appClient(setup, gw, { applicationName: 'first-client' });
    const a = appClient(setup, gw, { applicationName: 'leaving-client' });
    const c = appClient(setup, gw, { applicationName: 'third-client' });
    await b.connect();
    await a.connect();
    await c.connect();
    const pool = gw.gateway.pools.get('appdb/app')!;
    try {
      const pid = await backendPid(b);
      await waitFor(() => pool.idleServers.length === 1, 'server back in the pool');
      pause(pid);
      a.query('SELECT 1').catch(() => undefined);
      await waitFor(() => pool.internalServers.size === 1, "a's settings query running");
      pgSocket(a).destroy();
      await waitFor(() => pool.clientCount === 2, 'a gone');
      const r = c.query<Record<string, unknown>>("SELECT 42 AS answer");
      await new Promise((done) => setTimeout(done, 300));
      resume(pid);
      const row = (await r).rows[0]!;
      assert.deepEqual(row, { answer: 42 });
      const second = (await c.query<Record<string, unknown>>('SELECT 7 AS seven')).rows[0]!;
      assert.deepEqual(second, { seven: 7 });
    } finally {
      await b.end().catch(() => undefined);
      await c.end().catch(() => undefined);
    }
  });
});
