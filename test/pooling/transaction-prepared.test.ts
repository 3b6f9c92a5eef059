/**
 * Transaction pooling with named prepared statements: more clients than server connections,
 * node-postgres named queries, postgres.js's default (prepare: true), pgbench -M prepared and
 * -M extended, results checked; and a transaction never interleaved with another client's work.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { execFile } from 'node:child_process';
import pg from 'pg';
import postgres from 'postgres';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { makePki, type Pki, type ClientFiles } from '../harness/cert-factory.js';
import { startGateway, type RunningGateway } from '../harness/gateway.js';
import { pgTool } from '../harness/pg-binaries.js';

let pgs: PgServer;
let pki: Pki;
let gw: RunningGateway;
let app: ClientFiles;
const POOL = 3;

function ssl(c: ClientFiles): { cert: string; key: string; ca: string; servername: string } {
  return { cert: readFileSync(c.certPath, 'utf8'), key: readFileSync(c.keyPath, 'utf8'), ca: readFileSync(c.caPath, 'utf8'), servername: 'localhost' };
}

before(async () => {
  pki = await makePki();
  app = await pki.client('app');
  pgs = await startPostgres({
    setupSql: `CREATE ROLE app LOGIN; CREATE DATABASE appdb OWNER app;`,
  });
  pgs.sql('CREATE TABLE ledger (id serial PRIMARY KEY, client int NOT NULL, step int NOT NULL, txid bigint NOT NULL); ALTER TABLE ledger OWNER TO app;', 'appdb');
  gw = await startGateway({
    max_client_conn: 500,
    tls: { mode: 'verify-full', cert: pki.server.certPath, key: pki.server.keyPath, ca: pki.main.caPath, crl: pki.crlPath },
    databases: {
      appdb: { host: '127.0.0.1', port: pgs.port, dbname: 'appdb', environment: 'production', pool_size: POOL, pool_mode: 'transaction', tls: { mode: 'disable' } },
    },
    max_prepared_statements: 2, // small, so that eviction is exercised
  });
});

after(async () => {
  await gw?.stop();
  await pgs?.stop();
  pki?.cleanup();
});

test('node-postgres named queries through transaction mode: 20 clients over 3 server connections', async () => {
  const clients = await Promise.all(
    Array.from({ length: 20 }, async () => {
      const c = new pg.Client({ host: '127.0.0.1', port: gw.port, user: 'app', database: 'appdb', ssl: ssl(app) });
      await c.connect();
      return c;
    }),
  );
  try {
    await Promise.all(
      clients.map(async (c, i) => {
        for (let round = 0; round < 15; round++) {
          // Three distinct statements per client with a cache of 2 per server: eviction and re-prepare happen.
          const a = await c.query({ name: 'add', text: 'SELECT $1::int + $2::int AS s', values: [i, round] });
          assert.equal(a.rows[0].s, i + round);
          const b = await c.query({ name: 'cat', text: "SELECT $1::text || '-' || $2::text AS s", values: [`c${i}`, `r${round}`] });
          assert.equal(b.rows[0].s, `c${i}-r${round}`);
          const d = await c.query({ name: `own${i % 3}`, text: `SELECT ${i % 3} + $1::int AS s`, values: [round] });
          assert.equal(d.rows[0].s, (i % 3) + round);
        }
      }),
    );
  } finally {
    await Promise.all(clients.map((c) => c.end()));
  }
  assert.ok(gw.gateway.pools.get('appdb/app')!.serverCount <= POOL);
});

test('postgres.js with prepare: true (its default) through transaction mode', async () => {
  const sql = postgres({ host: '127.0.0.1', port: gw.port, user: 'app', database: 'appdb', ssl: ssl(app), max: 12 });
  try {
    const results = await Promise.all(
      Array.from({ length: 120 }, (_, i) => sql`SELECT ${i}::int * 2 AS v, ${'x' + i}::text AS t`.then((r) => [r[0]!.v, r[0]!.t])),
    );
    results.forEach(([v, t], i) => {
      assert.equal(v, i * 2);
      assert.equal(t, 'x' + i);
    });
    // A transaction with a prepared statement inside keeps one server connection to its end.
    const [row] = await sql.begin(async (tx) => {
      await tx`SELECT set_config('pgmoat.t', 'kept', true)`;
      return tx`SELECT current_setting('pgmoat.t') AS v`;
    });
    assert.equal(row!.v, 'kept');
  } finally {
    await sql.end();
  }
});

test("a client's BEGIN ... COMMIT is never interleaved with another client's statements", async () => {
  const N = 12;
  const clients = await Promise.all(
    Array.from({ length: N }, async () => {
      const c = new pg.Client({ host: '127.0.0.1', port: gw.port, user: 'app', database: 'appdb', ssl: ssl(app) });
      await c.connect();
      return c;
    }),
  );
  try {
    await Promise.all(
      clients.map(async (c, i) => {
        for (let t = 0; t < 10; t++) {
          await c.query('BEGIN');
          // Every statement of this transaction must run on the same backend in the same transaction:
          // txid_current() differs between transactions and backends, so a hand-over shows up.
          for (let step = 0; step < 4; step++) {
            await c.query({ name: 'ins', text: 'INSERT INTO ledger (client, step, txid) VALUES ($1, $2, txid_current())', values: [i, step] });
          }
          await c.query('COMMIT');
        }
      }),
    );
  } finally {
    await Promise.all(clients.map((c) => c.end()));
  }
  const rows = pgs.sql('SELECT client, count(DISTINCT txid), count(*) FROM ledger GROUP BY client ORDER BY client', 'appdb').split('\n');
  assert.equal(rows.length, N);
  for (const r of rows) {
    const [, txids, count] = r.split('|').map(Number);
    assert.equal(count, 40);
    assert.equal(txids, 10, `client ${r}: every transaction's 4 inserts share one txid`);
  }
  // And no transaction holds rows of two clients.
  assert.equal(pgs.sql('SELECT count(*) FROM (SELECT txid FROM ledger GROUP BY txid HAVING count(DISTINCT client) > 1) x', 'appdb'), '0');
});

function pgbench(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(pgTool('pgbench'), args, { env: { ...process.env, ...env }, timeout: 240_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, out: stdout + stderr }),
    );
  });
}

test('pgbench -M prepared and -M extended with more clients than server connections (-c 50 over a pool of 3)', async () => {
  const direct = await pgbench(['-i', '-s', '1', '-q', '-h', '127.0.0.1', '-p', String(pgs.port), '-U', 'postgres', 'appdb'], {});
  assert.equal(direct.code, 0, direct.out);
  pgs.sql('GRANT ALL ON ALL TABLES IN SCHEMA public TO app', 'appdb');
  const env = { PGSSLMODE: 'verify-full', PGSSLCERT: app.certPath, PGSSLKEY: app.keyPath, PGSSLROOTCERT: app.caPath };
  for (const mode of ['prepared', 'extended']) {
    const r = await pgbench(['-n', '-M', mode, '-c', '50', '-j', '2', '-t', '10', '-h', '127.0.0.1', '-p', String(gw.port), '-U', 'app', 'appdb'], env);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /number of transactions actually processed: 500\/500/);
    assert.match(r.out, /number of failed transactions: 0 /);
  }
});
