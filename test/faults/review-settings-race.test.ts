/**
 * Review demonstration (issue 12 review): a client that hangs up while pgmoat is still applying
 * its session settings on a server. Pool.closeClient -> releaseServer puts that server back to
 * 'idle' with the settings query still in flight (internalDone set, no deadline swept), so the
 * next client is linked to it and its query runs after the departed client's SET.
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
      console.log('after a left: idle', pool.idleServers.length, 'internal', pool.internalServers.size, 'active', pool.activeServers.size);
      const r = b.query<{ name: string; p: number }>("SELECT current_setting('application_name') AS name, pg_backend_pid() AS p");
      await waitFor(() => pool.activeServers.size + pool.connecting + pool.internalServers.size > 0, 'b asked for a server');
      resume(pid);
      const row = (await r).rows[0]!;
      console.log('b got', row);
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
      await waitFor(() => pool.activeClients.size === 1, 'c linked');
      resume(pid);
      const row = (await r).rows[0]!;
      console.log('c got', row);
      assert.deepEqual(row, { answer: 42 });
      const second = (await c.query<Record<string, unknown>>('SELECT 7 AS seven')).rows[0]!;
      console.log('c then got', second);
      assert.deepEqual(second, { seven: 7 });
    } finally {
      await b.end().catch(() => undefined);
      await c.end().catch(() => undefined);
    }
  });
});
