/**
 * Asynchronous messages through pgmoat: LISTEN/NOTIFY (a notification arrives while the client
 * is idle, between its queries) and NoticeResponse from RAISE NOTICE / WARNING.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import postgres from 'postgres';
import type { PgServer } from '../harness/postgres.js';
import type { ClientFiles, Pki } from '../harness/cert-factory.js';
import { startGateway, type RunningGateway } from '../harness/gateway.js';
import { clientTlsSection, nodeSsl, plainUpstream, useAppGateway, waitFor } from './helpers.js';

let upstream: PgServer;
let pki: Pki;
let gw: RunningGateway;
let app: ClientFiles;

useAppGateway({ database: { pool_size: 3 } }, (parts) => {
  ({ pki, upstream, app, gw } = parts);
});

async function connected(): Promise<pg.Client> {
  const c = new pg.Client({ host: '127.0.0.1', port: gw.port, user: 'app', database: 'appdb', ssl: nodeSsl(app) });
  await c.connect();
  return c;
}

test('LISTEN through pgmoat receives NOTIFY from another pgmoat client, while idle', async () => {
  const listener = await connected();
  const notifier = await connected();
  try {
    const got: pg.Notification[] = [];
    listener.on('notification', (n) => got.push(n));
    await listener.query('LISTEN jobs');
    await notifier.query("NOTIFY jobs, 'first'");
    await notifier.query("SELECT pg_notify('jobs', 'second')");
    await waitFor(() => got.length >= 2, 'two notifications');
    assert.deepEqual(
      got.map((n) => [n.channel, n.payload]),
      [
        ['jobs', 'first'],
        ['jobs', 'second'],
      ],
    );
  } finally {
    await listener.end();
    await notifier.end();
  }
});

test('NOTIFY sent straight to PostgreSQL reaches a listener behind pgmoat, in order, large payloads intact', async () => {
  const listener = await connected();
  const direct = new pg.Client({ host: '127.0.0.1', port: upstream.port, user: 'app', database: 'appdb' });
  await direct.connect();
  try {
    const got: string[] = [];
    listener.on('notification', (n) => got.push(n.payload ?? ''));
    await listener.query('LISTEN bulk');
    const big = 'p'.repeat(7_900); // close to PostgreSQL's 8000-byte payload limit
    await direct.query(`SELECT pg_notify('bulk', $1)`, [big]);
    // 500 notifications from one transaction arrive as one burst, spread over many TLS records.
    await direct.query("SELECT pg_notify('bulk', 'n' || i) FROM generate_series(1, 500) AS i");
    await waitFor(() => got.length >= 501, '501 notifications');
    assert.equal(got[0], big);
    assert.deepEqual(got.slice(1), Array.from({ length: 500 }, (_, i) => `n${i + 1}`));
    // The session still answers queries after the burst.
    assert.equal((await listener.query<{ n: number }>('SELECT 1 AS n')).rows[0]!.n, 1);
  } finally {
    await listener.end();
    await direct.end();
  }
});

test('a LISTEN does not outlive its session: the next client of the same server connection hears nothing', async () => {
  // pool_size 1: the second client surely gets the server connection the first one listened on.
  const single = await startGateway({ tls: clientTlsSection(pki), databases: { appdb: plainUpstream(upstream, 'appdb', { pool_size: 1 }) } });
  const direct = new pg.Client({ host: '127.0.0.1', port: upstream.port, user: 'app', database: 'appdb' });
  await direct.connect();
  const through = async (): Promise<pg.Client> => {
    const c = new pg.Client({ host: '127.0.0.1', port: single.port, user: 'app', database: 'appdb', ssl: nodeSsl(app) });
    await c.connect();
    return c;
  };
  try {
    const first = await through();
    const firstPid = (await first.query<{ pid: number }>('LISTEN leak_check; SELECT pg_backend_pid() AS pid')) as unknown as pg.QueryResult<{ pid: number }>[];
    await first.end();
    const second = await through();
    try {
      const got: pg.Notification[] = [];
      second.on('notification', (n) => got.push(n));
      const secondPid = (await second.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      assert.equal(secondPid, firstPid[1]!.rows[0]!.pid, 'the same server connection');
      await direct.query("NOTIFY leak_check, 'should not arrive'");
      await second.query('SELECT pg_sleep(0.2)');
      assert.equal(got.length, 0, `heard ${JSON.stringify(got)}`);
      // And a LISTEN of its own still works on that connection.
      await second.query('LISTEN own');
      await direct.query("NOTIFY own, 'mine'");
      await waitFor(() => got.length === 1, 'its own notification');
      assert.equal(got[0]!.payload, 'mine');
    } finally {
      await second.end();
    }
  } finally {
    await direct.end();
    await single.stop();
  }
});

test('RAISE NOTICE and WARNING reach a pg client as notices, in order, with the query result', async () => {
  const c = await connected();
  try {
    const notices: { severity: string; message: string; code: string }[] = [];
    c.on('notice', (n) => notices.push({ severity: n.severity ?? '', message: n.message ?? '', code: n.code ?? '' }));
    const r = await c.query(`DO $$ BEGIN
      RAISE NOTICE 'step % of 2', 1;
      RAISE WARNING 'careful' USING ERRCODE = '01000';
      RAISE NOTICE 'step % of 2', 2;
    END $$`);
    assert.equal(r.command, 'DO');
    assert.deepEqual(notices, [
      { severity: 'NOTICE', message: 'step 1 of 2', code: '00000' },
      { severity: 'WARNING', message: 'careful', code: '01000' },
      { severity: 'NOTICE', message: 'step 2 of 2', code: '00000' },
    ]);
  } finally {
    await c.end();
  }
});

test('postgres.js receives notices and notifications through pgmoat', async () => {
  const notices: string[] = [];
  const sql = postgres({
    host: '127.0.0.1',
    port: gw.port,
    user: 'app',
    database: 'appdb',
    ssl: nodeSsl(app),
    max: 2,
    connect_timeout: 10,
    onnotice: (n) => notices.push(String(n.message)),
  });
  try {
    await sql`DO $$ BEGIN RAISE NOTICE 'hello from plpgsql'; END $$`;
    assert.deepEqual(notices, ['hello from plpgsql']);
    const got: string[] = [];
    const { unlisten } = await sql.listen('pjs', (payload) => got.push(payload));
    await sql.notify('pjs', 'via postgres.js');
    await waitFor(() => got.length >= 1, 'the notification');
    assert.deepEqual(got, ['via postgres.js']);
    await unlisten();
  } finally {
    await sql.end({ timeout: 1 });
  }
});
