/**
 * COPY FROM STDIN and COPY TO STDOUT of about 100 MB each through pgmoat over TLS, with
 * postgres.js streams and with psql: every row checked, not only counted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import postgres from 'postgres';
import type { PgServer } from '../harness/postgres.js';
import type { ClientFiles, Pki } from '../harness/cert-factory.js';
import type { RunningGateway } from '../harness/gateway.js';
import { pgTool } from '../harness/pg-binaries.js';
import { conninfo } from '../harness/psql.js';
import { APP_SETUP_SQL, nodeSsl, useAppGateway } from './helpers.js';

const ROWS = 100_000;
/** Row i as COPY text: "i<TAB>" then 1000 characters that depend on i. */
const line = (i: number): string => `${i}\t${String(i).padStart(10, '0')}${String.fromCharCode(97 + (i % 26)).repeat(990)}\n`;
const EXPECTED_BYTES = (() => {
  let n = 0;
  for (let i = 1; i <= ROWS; i++) n += Buffer.byteLength(line(i));
  return n;
})();
/** The same rows made by PostgreSQL. */
const SOURCE_SQL = `SELECT i, lpad(i::text, 10, '0') || repeat(chr(97 + i % 26), 990) FROM generate_series(1, ${ROWS}) AS i`;
/** Rows of table `t` that differ from line(i). */
const MISMATCH_SQL = `SELECT count(*) AS bad FROM t WHERE s IS DISTINCT FROM lpad(i::text, 10, '0') || repeat(chr(97 + i % 26), 990)`;

let upstream: PgServer;
let pki: Pki;
let gw: RunningGateway;
let app: ClientFiles;

useAppGateway(
  {
    setupSql: `${APP_SETUP_SQL}
      \\c appdb
      CREATE TABLE t (i int, s text); ALTER TABLE t OWNER TO app;`,
    database: { pool_size: 2 },
  },
  (parts) => {
    ({ pki, upstream, app, gw } = parts);
  },
);

function connect(): postgres.Sql {
  return postgres({ host: '127.0.0.1', port: gw.port, user: 'app', database: 'appdb', ssl: nodeSsl(app), max: 1, connect_timeout: 10 });
}

function* rows(): Generator<string> {
  // Batches of 100 rows: about 100 kB per write.
  for (let i = 1; i <= ROWS; i += 100) {
    let batch = '';
    for (let j = i; j < i + 100 && j <= ROWS; j++) batch += line(j);
    yield batch;
  }
}

/** A Writable that checks a COPY text stream line by line against line(i). */
function checker(): { sink: Writable; result(): { bytes: number; rows: number } } {
  let bytes = 0;
  let next = 1;
  let partial = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      bytes += chunk.length;
      const text = partial + chunk.toString('utf8');
      let start = 0;
      for (;;) {
        const nl = text.indexOf('\n', start);
        if (nl < 0) break;
        const got = text.slice(start, nl + 1);
        if (got !== line(next)) return cb(new Error(`row ${next} differs: ${JSON.stringify(got.slice(0, 40))}...`));
        next++;
        start = nl + 1;
      }
      partial = text.slice(start);
      cb();
    },
  });
  return { sink, result: () => ({ bytes, rows: next - 1 + (partial.length > 0 ? 0.5 : 0) }) };
}

test('postgres.js: COPY FROM STDIN of ~100 MB through TLS, every row intact', async () => {
  const sql = connect();
  try {
    await sql`TRUNCATE t`;
    const writable = await sql`COPY t (i, s) FROM STDIN`.writable();
    await pipeline(Readable.from(rows()), writable);
    const [stats] = await sql<{ n: string; bytes: string }[]>`SELECT count(*) AS n, sum(length(s) + length(i::text) + 2) AS bytes FROM t`;
    assert.equal(Number(stats!.n), ROWS);
    assert.equal(Number(stats!.bytes), EXPECTED_BYTES);
    const [check] = await sql.unsafe<{ bad: string }[]>(MISMATCH_SQL);
    assert.equal(Number(check!.bad), 0);
  } finally {
    await sql.end({ timeout: 5 });
  }
});

test('postgres.js: COPY TO STDOUT of ~100 MB through TLS, every row intact', async () => {
  const sql = connect();
  try {
    const readable = await sql.unsafe(`COPY (${SOURCE_SQL}) TO STDOUT`).readable();
    const { sink, result } = checker();
    await pipeline(readable, sink);
    assert.deepEqual(result(), { bytes: EXPECTED_BYTES, rows: ROWS });
    // The session is usable after the stream.
    const [one] = await sql<{ n: number }[]>`SELECT 1 AS n`;
    assert.equal(one!.n, 1);
  } finally {
    await sql.end({ timeout: 5 });
  }
});

function psqlStream(sql: string, stdin: Readable | undefined, stdout: Writable): Promise<{ code: number | null; stderr: string }> {
  const conn = conninfo(gw.port, { user: 'app', dbname: 'appdb', cert: app });
  const child = spawn(pgTool('psql'), ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-c', sql, conn], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const done = new Promise<number | null>((resolve) => child.once('close', resolve));
  const feeding = stdin ? pipeline(stdin, child.stdin).catch(() => undefined) : (child.stdin.end(), Promise.resolve());
  const reading = pipeline(child.stdout, stdout);
  return Promise.all([feeding, reading, done]).then(([, , code]) => ({ code, stderr }));
}

test('psql: \\copy FROM pstdin of ~100 MB through TLS', async () => {
  upstream.sql('TRUNCATE t', 'appdb');
  const r = await psqlStream('\\copy t (i, s) FROM pstdin', Readable.from(rows()), new Writable({ write: (_c, _e, cb) => cb() }));
  assert.equal(r.stderr, '');
  assert.equal(r.code, 0);
  assert.equal(upstream.sql('SELECT count(*) FROM t', 'appdb'), String(ROWS));
  assert.equal(upstream.sql(MISMATCH_SQL, 'appdb'), '0');
});

test('psql: COPY TO STDOUT of ~100 MB through TLS, piped and checked', async () => {
  const { sink, result } = checker();
  const r = await psqlStream(`COPY (${SOURCE_SQL}) TO STDOUT`, undefined, sink);
  assert.equal(r.stderr, '');
  assert.equal(r.code, 0);
  assert.deepEqual(result(), { bytes: EXPECTED_BYTES, rows: ROWS });
});
