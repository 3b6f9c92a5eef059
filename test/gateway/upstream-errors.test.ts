/**
 * When the upstream fails: a database whose server is down gives its clients a clear error
 * (SQLSTATE and message) while the other databases keep working; an ErrorResponse PostgreSQL
 * sends at login reaches the client as PostgreSQL sent it; an authentication method pgmoat does not
 * speak upstream (GSSAPI) is named, with what to use instead; an SSLRequest answered wrongly (bytes
 * after the 'S', neither 'S' nor 'N'), not at all, or with a hang-up gives a clear FATAL; a server
 * that dies mid-session ends that session with an error, and pgmoat reconnects once it is back.
 * An upstream that is down or does not answer may be restarting: a login that needs a server
 * is retried until client_login_timeout, a query until query_wait_timeout, then the client
 * gets the last failure (with how long pgmoat tried).
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type AddressInfo } from 'node:net';
import pg from 'pg';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { makePki, type ClientFiles, type Pki } from '../harness/cert-factory.js';
import { startGateway, type RunningGateway } from '../harness/gateway.js';
import { freePort } from '../harness/free-port.js';
import { conninfo, psql } from '../harness/psql.js';
import { clientTlsSection, nodeSsl, plainUpstream, waitFor } from './helpers.js';

let upstream: PgServer;
let pki: Pki;
let gw: RunningGateway;
let app: ClientFiles;
let deadPort: number;
/** Fake upstreams that answer the SSLRequest wrongly: 'S' with bytes after it (CVE-2021-23222), or 'X'. */
const liars: Server[] = [];

/** `answer`: what to send back to the SSLRequest; 'silence' sends nothing, 'close' hangs up. */
function lyingUpstream(answer: Buffer | 'silence' | 'close'): Promise<number> {
  const server = createServer((socket) => {
    socket.on('error', () => undefined);
    socket.once('data', () => {
      if (answer === 'close') socket.destroy();
      else if (answer !== 'silence') socket.write(answer);
    });
  });
  liars.push(server);
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

before(async () => {
  pki = await makePki();
  upstream = await startPostgres({
    setupSql: 'CREATE ROLE app LOGIN; CREATE ROLE gssuser LOGIN; CREATE DATABASE appdb OWNER app;',
    // gssuser must use GSSAPI: a method pgmoat does not speak upstream.
    hba: ['local all all trust', 'host all gssuser 127.0.0.1/32 gss', 'host all all 127.0.0.1/32 trust', ''].join('\n'),
  });
  app = await pki.client('app');
  deadPort = await freePort(); // nothing listens there
  // One write, so that 'S' and the injected bytes arrive in one read, as an attacker would send them.
  const injectedPort = await lyingUpstream(Buffer.concat([Buffer.from('S'), Buffer.from('Z\0\0\0\x05I')]));
  const badAnswerPort = await lyingUpstream(Buffer.from('X'));
  const silentPort = await lyingUpstream('silence');
  const hangUpPort = await lyingUpstream('close');
  gw = await startGateway({
    tls: clientTlsSection(pki),
    server_connect_timeout: '1s',
    client_login_timeout: '2500ms',
    query_wait_timeout: '2s',
    databases: {
      appdb: plainUpstream(upstream, 'appdb', { pool_size: 2 }),
      down: plainUpstream(upstream, 'appdb', { port: deadPort }),
      nodb: plainUpstream(upstream, 'does_not_exist'),
      ghost: plainUpstream(upstream, 'appdb', { user: 'ghost' }),
      gssdb: plainUpstream(upstream, 'appdb', { user: 'gssuser' }),
      injected: plainUpstream(upstream, 'appdb', { port: injectedPort, tls: { mode: 'prefer' } }),
      badanswer: plainUpstream(upstream, 'appdb', { port: badAnswerPort, tls: { mode: 'prefer' } }),
      silent: plainUpstream(upstream, 'appdb', { port: silentPort, tls: { mode: 'prefer' } }),
      hangup: plainUpstream(upstream, 'appdb', { port: hangUpPort, tls: { mode: 'prefer' } }),
    },
  });
});
after(async () => {
  for (const l of liars) l.close();
  await gw?.stop();
  await upstream?.stop();
  pki?.cleanup();
});

interface PgErr extends Error {
  code?: string;
  severity?: string;
}

async function query(database: string, sql = 'SELECT current_database() AS d'): Promise<string> {
  // A hung login fails the test (as a timeout) instead of hanging it.
  const c = new pg.Client({ host: '127.0.0.1', port: gw.port, user: 'app', database, ssl: nodeSsl(app), connectionTimeoutMillis: 10_000 });
  c.on('error', () => undefined);
  try {
    await c.connect();
    const r = await c.query(sql);
    return String(Object.values(r.rows[0] as Record<string, unknown>)[0]);
  } finally {
    await c.end().catch(() => undefined);
  }
}

async function refusedWith(database: string): Promise<PgErr> {
  try {
    await query(database);
  } catch (err) {
    return err as PgErr;
  }
  throw new Error(`a client of ${database} was not refused`);
}

test('upstream down: after client_login_timeout of retries the client gets FATAL 08001 naming the upstream, and other databases keep working', async () => {
  const err = (await refusedWith('down')) as PgErr & { detail?: string };
  assert.equal(err.severity, 'FATAL');
  assert.equal(err.code, '08001', err.message);
  assert.match(err.message, new RegExp(`could not connect to upstream "down" \\(127\\.0\\.0\\.1:${deadPort}\\): ECONNREFUSED`));
  assert.match(err.detail ?? '', /pgmoat tried \d+ times to open a server connection for pool down\/app while this login waited \(client_login_timeout\)/);
  assert.equal(await query('appdb'), 'appdb');
  // Again, after the backoff window too: still a clear error, never a hang or a dropped socket.
  const again = await refusedWith('down');
  assert.equal(again.code, '08001');
  assert.equal(await query('appdb'), 'appdb');
});

test('upstream down: clients arriving right after a failed connect (inside its backoff) get the error too, never a hang', async () => {
  await refusedWith('down');
  const burst = await Promise.all(Array.from({ length: 5 }, () => refusedWith('down')));
  for (const err of burst) assert.equal(err.code, '08001', err.message);
  assert.equal((await refusedWith('down')).code, '08001');
});

test('upstream down: psql shows the reason', async () => {
  const r = await psql(conninfo(gw.port, { user: 'app', dbname: 'down', cert: app }), 'SELECT 1');
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /FATAL: {2}could not connect to upstream "down"/);
});

test("an upstream ErrorResponse at login (database does not exist) reaches the client as PostgreSQL sent it", async () => {
  const err = await refusedWith('nodb');
  assert.equal(err.severity, 'FATAL');
  assert.equal(err.code, '3D000');
  assert.equal(err.message, 'database "does_not_exist" does not exist');
  assert.equal(await query('appdb'), 'appdb');
});

test('an upstream ErrorResponse at login (role does not exist) reaches the client as PostgreSQL sent it', async () => {
  const err = await refusedWith('ghost');
  assert.equal(err.severity, 'FATAL');
  assert.equal(err.code, '28000');
  assert.equal(err.message, 'role "ghost" does not exist');
});

test('an upstream that asks for GSSAPI: FATAL 0A000 naming the method, the upstream, the role and what to use instead', async () => {
  const err = await refusedWith('gssdb');
  assert.equal(err.severity, 'FATAL');
  assert.equal(err.code, '0A000');
  assert.match(err.message, /^upstream "gssdb" \(127\.0\.0\.1:\d+\) asks role "gssuser" for GSSAPI \(request code 7\) authentication, which pgmoat does not support upstream/);
  assert.match(err.message, /give the role scram-sha-256, md5, password, trust or cert in the server's pg_hba\.conf/);
  assert.equal(await query('appdb'), 'appdb');
});

test('an upstream whose SSLRequest answer carries bytes after the S (CVE-2021-23222) or is neither S nor N: FATAL 08P01', async () => {
  const cases = [
    ['injected', liars[0], "'S' followed by 6 unencrypted bytes, refused \\(CVE-2021-23222\\): something between pgmoat and the server may be injecting data"],
    ['badanswer', liars[1], "bytes that are not PostgreSQL's 'S' or 'N' \\(first bytes 58\\); check the database's host and port"],
  ] as const;
  for (const [database, port, detail] of cases) {
    const err = await refusedWith(database);
    assert.equal(err.severity, 'FATAL');
    assert.equal(err.code, '08P01', err.message);
    const { port: p } = port!.address() as AddressInfo;
    assert.match(err.message, new RegExp(`upstream "${database}" \\(127\\.0\\.0\\.1:${p}\\) sent an invalid answer to SSLRequest: ${detail}`));
  }
  assert.equal(await query('appdb'), 'appdb');
});

test('an upstream that never answers the SSLRequest times out (08001), one that hangs up on it fails at once (08006)', async () => {
  const silent = await refusedWith('silent');
  assert.equal(silent.code, '08001', silent.message);
  assert.match(silent.message, /upstream "silent" .* did not complete login within server_connect_timeout \(1000 ms\)/);
  const hangup = await refusedWith('hangup');
  assert.equal(hangup.code, '08006', hangup.message);
  assert.match(hangup.message, /upstream "hangup" .* closed the connection during SSL negotiation/);
  assert.equal(await query('appdb'), 'appdb');
});

test('a database pgmoat does not know: FATAL 3D000 without touching any upstream', async () => {
  const err = await refusedWith('nosuch');
  assert.equal(err.code, '3D000');
  assert.match(err.message, /no such database: "nosuch"/);
  assert.equal(gw.gateway.pools.has('nosuch/app'), false);
});

test('the upstream dies mid-session: that session ends with an error; after it returns, new sessions work', async () => {
  const c = new pg.Client({ host: '127.0.0.1', port: gw.port, user: 'app', database: 'appdb', ssl: nodeSsl(app) });
  const ended = new Promise<Error | undefined>((resolve) => {
    c.on('error', (e) => resolve(e));
    c.on('end', () => resolve(undefined));
  });
  await c.connect();
  await c.query('SELECT 1');
  await upstream.stopServer();
  try {
    // PostgreSQL's fast shutdown sends its own FATAL 57P01; pgmoat forwards it (or reports the loss).
    const lost = (await ended) as PgErr | undefined;
    assert.ok(lost, 'the session must end with an error, not silently');
    assert.match(String(lost.code ?? lost.message), /57P01|08006/, lost.message);
    await assert.rejects(c.query('SELECT 1'));
    // The pool knows the server's parameters: the login is answered, the query waits for a server.
    const down = (await refusedWith('appdb')) as PgErr & { detail?: string };
    assert.equal(down.code, '57014', `while the upstream is down: ${down.code} ${down.message}`);
    assert.equal(down.severity, 'ERROR', 'the session is kept: the query can be sent again');
    assert.match(down.detail ?? '', /The last attempt to open a server connection failed \d+ s ago: could not connect to upstream "appdb" .*ECONNREFUSED/);
  } finally {
    await upstream.start();
    await c.end().catch(() => undefined);
  }
  // The connect backoff is short: new sessions work again soon after the upstream is back.
  await waitFor(async () => (await query('appdb').catch(() => '')) === 'appdb', 'a session after the upstream came back', 15_000);
});
