/**
 * The relay carries the whole protocol, not only the happy path: pipelined extended-protocol
 * queries with errors in the middle, multi-statement simple queries, every byte value, large
 * rows, CopyFail, a startup packet with a query pipelined behind it, and a backend terminated
 * by an administrator.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import postgres from 'postgres';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { PgServer } from '../harness/postgres.js';
import type { ClientFiles, Pki } from '../harness/cert-factory.js';
import type { RunningGateway } from '../harness/gateway.js';
import { APP_SETUP_SQL, nodeSsl, useAppGateway, waitFor } from './helpers.js';
import { errorFields, openTls, queryMessage, startupPacket } from './raw-wire.js';

let upstream: PgServer;
let pki: Pki;
let gw: RunningGateway;
let app: ClientFiles;

useAppGateway(
  {
    setupSql: `${APP_SETUP_SQL}
      \\c appdb
      CREATE TABLE kv (k int PRIMARY KEY, v text); ALTER TABLE kv OWNER TO app;`,
    database: { pool_size: 2 },
  },
  (parts) => {
    ({ pki, upstream, app, gw } = parts);
  },
);

function sqlClient(): postgres.Sql {
  return postgres({ host: '127.0.0.1', port: gw.port, user: 'app', database: 'appdb', ssl: nodeSsl(app), max: 1, connect_timeout: 10, onnotice: () => undefined });
}

async function pgClient(): Promise<pg.Client> {
  const c = new pg.Client({ host: '127.0.0.1', port: gw.port, user: 'app', database: 'appdb', ssl: nodeSsl(app) });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

test('postgres.js: 200 pipelined extended-protocol queries on one connection, every 10th failing', async () => {
  const sql = sqlClient();
  try {
    const results = await Promise.allSettled(
      Array.from({ length: 200 }, (_, i) => (i % 10 === 9 ? sql`SELECT 1 / ${0}::int AS n` : sql<{ n: number }[]>`SELECT ${i}::int AS n`)),
    );
    results.forEach((r, i) => {
      if (i % 10 === 9) {
        assert.equal(r.status, 'rejected');
        assert.equal(((r as PromiseRejectedResult).reason as { code: string }).code, '22012');
      } else {
        assert.equal(r.status, 'fulfilled', `query ${i}`);
        assert.equal((r as PromiseFulfilledResult<{ n: number }[]>).value[0]!.n, i);
      }
    });
  } finally {
    await sql.end({ timeout: 5 });
  }
});

test('a multi-statement simple query with an error in the middle: results up to it, then the error, then the session goes on', async () => {
  const c = await pgClient();
  try {
    await assert.rejects(c.query("INSERT INTO kv VALUES (1, 'a'); SELECT 1/0; INSERT INTO kv VALUES (2, 'b')"), { code: '22012' });
    // One implicit transaction: the first insert rolled back with the error.
    assert.equal((await c.query('SELECT count(*)::int AS n FROM kv')).rows[0].n, 0);
    const r = (await c.query("SELECT 'x' AS a; SELECT 'y' AS b")) as unknown as pg.QueryResult[];
    assert.deepEqual(
      r.map((x) => x.rows[0]),
      [{ a: 'x' }, { b: 'y' }],
    );
    assert.equal((await c.query('')).command, null, 'an empty query');
  } finally {
    await c.end();
  }
});

test('every byte value and a 20 MB row survive the relay both ways', async () => {
  const c = await pgClient();
  try {
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const echoed = await c.query<{ b: Buffer; n: number }>('SELECT $1::bytea AS b, length($1::bytea) AS n', [all]);
    assert.deepEqual(echoed.rows[0]!.b, all);
    const big = 'z'.repeat(20 * 1024 * 1024);
    const r = await c.query<{ n: number; tail: string; back: string }>('SELECT length($1::text) AS n, right($1::text, 3) AS tail, $1::text AS back', [big]);
    assert.equal(r.rows[0]!.n, big.length);
    assert.equal(r.rows[0]!.tail, 'zzz');
    assert.equal(r.rows[0]!.back.length, big.length);
  } finally {
    await c.end();
  }
});

test('COPY FROM STDIN aborted by the client (CopyFail): the error comes back and the session goes on', async () => {
  const sql = sqlClient();
  try {
    const writable = await sql`COPY kv (k, v) FROM STDIN`.writable();
    const failing = new Readable({
      read() {
        this.push('10\tten\n');
        this.destroy(new Error('client gave up'));
      },
    });
    await assert.rejects(pipeline(failing, writable));
    await waitFor(async () => {
      try {
        await sql`SELECT 1`;
        return true;
      } catch {
        return false;
      }
    }, 'the session to answer again');
    const [row] = await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM kv WHERE k = 10`;
    assert.equal(row!.n, 0, 'the aborted COPY left no row');
  } finally {
    await sql.end({ timeout: 5 });
  }
});

test('a Query pipelined in the same TLS write as the StartupMessage is answered after the login', async () => {
  const conn = await openTls(gw.port, { cert: app });
  conn.write(Buffer.concat([startupPacket({ user: 'app', database: 'appdb' }), queryMessage("SELECT 'piped'")]));
  const m = await conn.until((ms) => ms.filter((x) => x.type === 'Z').length >= 2 || ms.some((x) => x.type === 'E'));
  const types = m.map((x) => x.type).filter((t) => t !== 'S');
  assert.deepEqual(types, ['R', 'K', 'Z', 'T', 'D', 'C', 'Z'], `got ${types.join('')}`);
  assert.equal(m.find((x) => x.type === 'D')!.body.toString('utf8', 6), 'piped');
  conn.destroy();
});

test('a backend terminated upstream: the client gets PostgreSQL\'s FATAL 57P01, others keep working', async () => {
  const victim = await pgClient();
  const errors: (Error & { code?: string })[] = [];
  victim.on('error', (e) => errors.push(e));
  const pid = (await victim.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
  upstream.sql(`SELECT pg_terminate_backend(${pid})`);
  await waitFor(() => errors.length > 0, 'the victim to hear of it');
  assert.equal(errors[0]!.code, '57P01', errors[0]!.message);
  assert.match(errors[0]!.message, /terminating connection due to administrator command/);
  await victim.end().catch(() => undefined);
  const other = await pgClient();
  try {
    assert.equal((await other.query<{ n: number }>('SELECT 3 AS n')).rows[0]!.n, 3);
  } finally {
    await other.end();
  }
});

test('an ErrorResponse mid-query is forwarded with its fields (severity, SQLSTATE, message, position)', async () => {
  const conn = await openTls(gw.port, { cert: app });
  conn.write(startupPacket({ user: 'app', database: 'appdb' }));
  await conn.until((ms) => ms.some((x) => x.type === 'Z'));
  conn.write(queryMessage('SELECT nosuchcolumn FROM kv'));
  const m = await conn.until((ms) => ms.filter((x) => x.type === 'Z').length >= 2);
  const e = errorFields(m.find((x) => x.type === 'E')!.body);
  assert.equal(e.C, '42703');
  assert.equal(e.M, 'column "nosuchcolumn" does not exist');
  assert.equal(e.P, '8');
  assert.equal(e.S, 'ERROR');
  conn.destroy();
});
