/**
 * CancelRequest through pgmoat: the client's own cancel key (handed out by pgmoat) reaches the
 * backend serving it, over TLS or a plain connection as libpq may send it; unknown keys and
 * wrong secrets are ignored as PostgreSQL ignores them.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import postgres from 'postgres';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { makePki, type ClientFiles, type Pki } from '../harness/cert-factory.js';
import { startGateway, type RunningGateway } from '../harness/gateway.js';
import { clientTlsSection, nodeSsl, plainUpstream, waitFor } from './helpers.js';
import { RawConn, cancelRequest } from './raw-wire.js';

let upstream: PgServer;
let pki: Pki;
let gw: RunningGateway;
let app: ClientFiles;
let monitor: pg.Client;

before(async () => {
  pki = await makePki();
  upstream = await startPostgres({ setupSql: 'CREATE ROLE app LOGIN; CREATE DATABASE appdb OWNER app;' });
  app = await pki.client('app');
  gw = await startGateway({
    tls: clientTlsSection(pki),
    databases: { appdb: plainUpstream(upstream, 'appdb', { pool_size: 4 }) },
  });
  // Watches the upstream directly, not through pgmoat.
  monitor = new pg.Client({ host: '127.0.0.1', port: upstream.port, user: 'postgres', database: 'postgres' });
  await monitor.connect();
});
after(async () => {
  await monitor?.end();
  await gw?.stop();
  await upstream?.stop();
  pki?.cleanup();
});

const config = (): pg.ClientConfig => ({ host: '127.0.0.1', port: gw.port, user: 'app', database: 'appdb', ssl: nodeSsl(app) });

/** Resolves once the upstream runs a statement containing `marker`. */
async function running(marker: string): Promise<void> {
  await waitFor(async () => {
    const r = await monitor.query<{ n: string }>(
      "SELECT count(*) AS n FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%' || $1 || '%' AND pid <> pg_backend_pid()",
      [marker],
    );
    return r.rows[0]!.n !== '0';
  }, `the upstream to run ${marker}`);
}

/** The cancel key node-postgres received in BackendKeyData (public fields its typings leave out). */
function keyOf(client: pg.Client): { pid: number; secret: number } {
  const c = client as unknown as { processID: number; secretKey: number };
  return { pid: c.processID, secret: c.secretKey };
}

interface Timed {
  error: (Error & { code?: string }) | undefined;
  ms: number;
}

async function timed(p: Promise<unknown>): Promise<Timed> {
  const start = Date.now();
  try {
    await p;
    return { error: undefined, ms: Date.now() - start };
  } catch (err) {
    return { error: err as Error & { code?: string }, ms: Date.now() - start };
  }
}

test('pg: client.cancel of pg_sleep(30) ends it with 57014, well before 30 s', async () => {
  const client = new pg.Client(config());
  await client.connect();
  try {
    const query = client.query('SELECT pg_sleep(30) /* cancel-pg */');
    const outcome = timed(query);
    await running('cancel-pg');
    // node-postgres cancels through a second Client with the same config (TLS and certificate included).
    const canceller = new pg.Client(config());
    (canceller as unknown as { cancel(c: pg.Client, q: unknown): void }).cancel(client, (client as unknown as { activeQuery: unknown }).activeQuery);
    const r = await outcome;
    assert.equal(r.error?.code, '57014', `query ended with ${r.error?.message ?? 'success'}`);
    assert.match(r.error!.message, /canceling statement due to user request/);
    assert.ok(r.ms < 15_000, `the cancel took ${r.ms} ms`);
    // The session goes on after a cancel.
    assert.equal((await client.query<{ n: number }>('SELECT 7 AS n')).rows[0]!.n, 7);
  } finally {
    await client.end();
  }
});

test('postgres.js: query.cancel() of pg_sleep(30) ends it with 57014', async () => {
  const sql = postgres({ host: '127.0.0.1', port: gw.port, user: 'app', database: 'appdb', ssl: nodeSsl(app), max: 1, connect_timeout: 10 });
  try {
    const q = sql`SELECT pg_sleep(30) /* cancel-postgresjs */`;
    const outcome = timed(q.execute());
    await running('cancel-postgresjs');
    q.cancel();
    const r = await outcome;
    assert.equal(r.error?.code, '57014', `query ended with ${r.error?.message ?? 'success'}`);
    assert.ok(r.ms < 15_000, `the cancel took ${r.ms} ms`);
    assert.equal((await sql<{ n: number }[]>`SELECT 8 AS n`)[0]!.n, 8);
  } finally {
    await sql.end({ timeout: 1 });
  }
});

test('a CancelRequest on a plain connection with the right key cancels (libpq sends it without TLS when it likes)', async () => {
  const client = new pg.Client(config());
  await client.connect();
  try {
    const outcome = timed(client.query('SELECT pg_sleep(30) /* cancel-plain */'));
    await running('cancel-plain');
    const conn = await RawConn.open(gw.port);
    conn.write(cancelRequest(keyOf(client).pid, keyOf(client).secret));
    assert.ok(await conn.waitClosed(), 'pgmoat closes the cancel connection');
    assert.equal(conn.received.length, 0, 'a cancel gets no answer');
    const r = await outcome;
    assert.equal(r.error?.code, '57014');
  } finally {
    await client.end();
  }
});

test('the key pgmoat hands out is its own, not the backend pid', async () => {
  const client = new pg.Client(config());
  await client.connect();
  try {
    const backendPid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    assert.notEqual(keyOf(client).pid, backendPid);
  } finally {
    await client.end();
  }
});

test('an unknown cancel key and a wrong secret are ignored: the query completes', async () => {
  const client = new pg.Client(config());
  await client.connect();
  try {
    const query = client.query<{ done: string }>("SELECT pg_sleep(1.5), 'finished' AS done /* cancel-ignored */");
    await running('cancel-ignored');
    const unknown = await RawConn.open(gw.port);
    unknown.write(cancelRequest((keyOf(client).pid + 1) | 0, keyOf(client).secret));
    const wrongSecret = await RawConn.open(gw.port);
    wrongSecret.write(cancelRequest(keyOf(client).pid, (keyOf(client).secret + 1) | 0));
    for (const c of [unknown, wrongSecret]) {
      assert.ok(await c.waitClosed(), 'the cancel connection is closed');
      assert.equal(c.received.length, 0);
    }
    const r = await query;
    assert.equal(r.rows[0]!.done, 'finished');
  } finally {
    await client.end();
  }
});

test('a cancel for a client that is idle (no server linked) is ignored', async () => {
  const client = new pg.Client(config());
  await client.connect();
  try {
    const conn = await RawConn.open(gw.port);
    conn.write(cancelRequest(keyOf(client).pid, keyOf(client).secret));
    assert.ok(await conn.waitClosed());
    assert.equal((await client.query<{ n: number }>('SELECT 9 AS n')).rows[0]!.n, 9);
  } finally {
    await client.end();
  }
});

test('the key of a client that has left cancels nothing on the server connection it used', async () => {
  const first = new pg.Client(config());
  await first.connect();
  await first.query('SELECT 1');
  const staleKey = keyOf(first);
  await first.end();
  const second = new pg.Client(config());
  await second.connect();
  try {
    const query = second.query<{ done: string }>("SELECT pg_sleep(1.5), 'finished' AS done /* cancel-stale */");
    await running('cancel-stale');
    const conn = await RawConn.open(gw.port);
    conn.write(cancelRequest(staleKey.pid, staleKey.secret));
    assert.ok(await conn.waitClosed());
    assert.equal((await query).rows[0]!.done, 'finished');
  } finally {
    await second.end();
  }
});
