/**
 * An upstream that stops answering without closing (a process stopped with SIGSTOP): pgmoat's
 * own queries on it (check, session settings, reset) give up after internal_query_timeout and
 * the connection is replaced; a server stuck in a check does not keep the pool from opening
 * another; a postmaster that accepts nothing makes waiting clients get a retryable ERROR that
 * says why, and their sessions go on once it is back (issue 12, items 1, 4 and 5).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type pg from 'pg';
import type { RunningGateway } from '../harness/gateway.js';
import { logEvents, waitFor } from '../gateway/helpers.js';
import { appClient, backendPid, pause, resume, useFaultSetup, withGateway as withSetupGateway } from './helpers.js';

const setup = useFaultSetup();

function client(gw: RunningGateway, applicationName = 'pgmoat-test'): pg.Client {
  return appClient(setup, gw, { applicationName });
}

function withGateway(top: Record<string, unknown>, db: Record<string, unknown>, fn: (gw: RunningGateway) => Promise<void>): Promise<void> {
  return withSetupGateway(setup, top, db, fn);
}

/** The pool's one server is stopped after its first transaction; the next transaction must get past it. */
async function stopFirstServer(gw: RunningGateway, check: (c: pg.Client, first: number) => Promise<void>): Promise<void> {
  const c = client(gw);
  await c.connect();
  try {
    const first = await backendPid(c);
    pause(first);
    const second = await backendPid(c);
    assert.notEqual(second, first, 'served by a new server connection');
    await check(c, first);
  } finally {
    await c.end();
  }
}

test('a server stuck in its check query does not keep the pool from opening another', async () => {
  await withGateway({ pool_mode: 'transaction', server_check_delay: 0, internal_query_timeout: '120s' }, { pool_size: 2 }, async (gw) => {
    // The next transaction checks the idle server first; the check never answers. Before the
    // fix that server counted as "about to be free" and no second one was opened.
    await stopFirstServer(gw, async () => {
      assert.equal(gw.gateway.pools.get('appdb/app')!.internalServers.size, 1, 'the stopped server is still under check');
    });
  });
});

test('a check query that never answers is given up after internal_query_timeout and the server replaced', async () => {
  await withGateway({ pool_mode: 'transaction', server_check_delay: 0, internal_query_timeout: '1s' }, { pool_size: 1 }, async (gw) => {
    await stopFirstServer(gw, async (_c, first) => {
      const closed = logEvents(gw, 'server_closed').find((l) => l.backend_pid === first);
      assert.ok(closed, 'the stopped server was closed');
      assert.match(String(closed.reason), /^check query did not answer within internal_query_timeout/);
      assert.equal(closed.level, 40, 'logged as a warning');
    });
  });
});

test("a session-settings query that never answers sends the client to another server, with its settings", async () => {
  await withGateway({ pool_mode: 'transaction', server_check_delay: '1h', internal_query_timeout: '1s' }, { pool_size: 1 }, async (gw) => {
    const a = client(gw, 'first-app');
    const b = client(gw, 'second-app');
    await a.connect();
    await b.connect();
    try {
      const first = await backendPid(a);
      pause(first);
      // b needs its own application_name set on the server: that SET never answers.
      const r = await b.query<{ p: number; name: string }>("SELECT pg_backend_pid() AS p, current_setting('application_name') AS name");
      assert.notEqual(r.rows[0]!.p, first);
      assert.equal(r.rows[0]!.name, 'second-app');
      const closed = logEvents(gw, 'server_closed').find((l) => l.backend_pid === first);
      assert.match(String(closed?.reason), /^settings query did not answer/);
    } finally {
      await a.end();
      await b.end();
    }
  });
});

test('a reset query that never answers is given up and the next session is served', async () => {
  await withGateway({ pool_mode: 'session', internal_query_timeout: '1s' }, { pool_size: 1 }, async (gw) => {
    const a = client(gw);
    await a.connect();
    const first = await backendPid(a);
    pause(first);
    await a.end(); // DISCARD ALL goes to a server that does not answer
    const b = client(gw);
    await b.connect();
    try {
      assert.notEqual(await backendPid(b), first);
      const closed = logEvents(gw, 'server_closed').find((l) => l.backend_pid === first);
      assert.match(String(closed?.reason), /^reset query did not answer/);
    } finally {
      await b.end();
    }
  });
});

test('a postmaster that accepts nothing: waiting clients get a retryable ERROR naming the cause, and go on afterwards', async () => {
  await withGateway(
    { pool_mode: 'transaction', query_wait_timeout: '3s', server_connect_timeout: '1s', server_login_retry: '500ms' },
    { pool_size: 2 },
    async (gw) => {
      const c = client(gw);
      await c.connect(); // the pool's first server: the login needs its parameters
      const pool = gw.gateway.pools.get('appdb/app')!;
      await c.query('SELECT 1');
      // Only the idle server goes: the next transaction needs a new connection.
      pool.reconnect();
      const postmaster = setup.upstream.postmasterPid!;
      pause(postmaster);
      let refused: (Error & { code?: string; detail?: string }) | undefined;
      try {
        await c.query('SELECT 1');
      } catch (err) {
        refused = err as Error & { code?: string; detail?: string };
      }
      assert.ok(refused, 'the query fails while the upstream accepts nothing');
      assert.equal(refused.code, '57014');
      assert.match(refused.message, /query_wait_timeout/);
      assert.match(refused.detail ?? '', /0 in use by clients/);
      assert.match(refused.detail ?? '', /server_connect_timeout/, 'the detail names the last connect failure');
      resume(postmaster);
      // The session was kept: the same client goes on once the upstream answers again.
      await waitFor(async () => (await c.query('SELECT 1 AS one').then(() => true, () => false)), 'the session serves again', 15_000);
      assert.ok(logEvents(gw, 'query_wait_timeout').length > 0, 'the timeout was logged');
      await c.end();
    },
  );
});

test('query_timeout: a server that stops in the middle of a query is closed and its client told; the pool serves on', async () => {
  await withGateway({ pool_mode: 'transaction', query_timeout: '1s' }, { pool_size: 2 }, async (gw) => {
    const stuck = client(gw);
    const other = client(gw);
    await stuck.connect();
    await other.connect();
    try {
      await stuck.query('BEGIN');
      const pid = await backendPid(stuck);
      pause(pid);
      await assert.rejects(stuck.query('SELECT 1'), (e: Error & { code?: string }) => {
        assert.equal(e.code, '57014');
        assert.match(e.message, /query_timeout/);
        return true;
      });
      resume(pid);
      const closed = logEvents(gw, 'server_closed').find((l) => l.backend_pid === pid);
      assert.equal(closed?.reason, 'query_timeout');
      // Long work that keeps answering within the limit is not touched: pg_sleep(0.5) twice in one transaction.
      await other.query('BEGIN');
      await other.query('SELECT pg_sleep(0.5)');
      await other.query('SELECT pg_sleep(0.5)');
      await other.query('COMMIT');
    } finally {
      await stuck.end().catch(() => undefined);
      await other.end();
    }
  });
});
