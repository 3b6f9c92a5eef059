/**
 * The admin console's framing with a hand-made client: a Query split at every byte, pipelined
 * queries, the extended protocol refused up to Sync, and bad input (lengths, types, missing NUL)
 * answered with one FATAL and a close, never a crash; the console keeps serving afterwards.
 * The console never talks to an upstream, so no PostgreSQL runs here.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { makePki, type Pki, type ClientFiles } from '../harness/cert-factory.js';
import { startGateway, type RunningGateway } from '../harness/gateway.js';
import { freePort } from '../harness/free-port.js';
import { psql } from '../harness/psql.js';
import { clientTlsSection, waitFor } from '../gateway/helpers.js';
import { errorFields, login, openTls, queryMessage, typedMessage, type RawConn } from '../gateway/raw-wire.js';
import { Admin } from '../../src/admin/admin.js';
import { adminConn, quietLog } from './helpers.js';

let pki: Pki;
let ops: ClientFiles;
let gw: RunningGateway;
let admin: Admin;

before(async () => {
  pki = await makePki();
  ops = await pki.client('ops');
  const unused = await freePort();
  gw = await startGateway({
    tls: clientTlsSection(pki),
    databases: { appdb: { host: '127.0.0.1', port: unused, tls: { mode: 'disable' } } },
    admin: { identities: ['ops'] },
  });
  admin = Admin.attach(gw.gateway, { log: quietLog(), processMetrics: false });
});

after(async () => {
  await admin?.close();
  await gw?.stop();
  pki?.cleanup();
});

async function openConsole(): Promise<RawConn> {
  const conn = await openTls(gw.port, { cert: ops });
  const welcome = await login(conn, { user: 'ops', database: 'pgmoat' });
  assert.equal(welcome.at(-1)?.type, 'Z', JSON.stringify(welcome.map((m) => m.type)));
  conn.received = conn.received.subarray(conn.received.length); // start counting after the welcome
  return conn;
}

function readyCount(conn: RawConn): number {
  return conn.messages().filter((m) => m.type === 'Z').length;
}

async function stillServes(): Promise<void> {
  const r = await psql(adminConn(gw.port, ops), 'SHOW VERSION');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^pgmoat /);
}

test('a Query split at every byte offset is answered once, whole', async () => {
  const q = queryMessage('SHOW VERSION');
  for (let cut = 1; cut < q.length; cut++) {
    const conn = await openConsole();
    conn.write(q.subarray(0, cut));
    await new Promise((r) => setImmediate(r));
    conn.write(q.subarray(cut));
    const m = await conn.until((ms) => ms.some((x) => x.type === 'Z'));
    assert.deepEqual(
      m.map((x) => x.type),
      ['T', 'D', 'C', 'Z'],
      `cut at ${cut}`,
    );
    conn.destroy();
  }
});

test('pipelined queries are answered in order; an empty query gets EmptyQueryResponse', async () => {
  const conn = await openConsole();
  conn.write(Buffer.concat([queryMessage('SHOW VERSION'), queryMessage(' ; '), queryMessage('SHOW HELP; SHOW VERSION')]));
  const m = await conn.until(() => readyCount(conn) === 3);
  assert.deepEqual(
    m.map((x) => x.type).join(''),
    `TDCZIZT${'D'.repeat(25)}CTDCZ`,
  );
  conn.destroy();
});

test('extended-protocol messages get one ERROR, then ReadyForQuery at Sync; the session goes on', async () => {
  const conn = await openConsole();
  const parse = typedMessage('P', Buffer.from('\0SHOW POOLS\0\0\0', 'utf8'));
  const bind = typedMessage('B', Buffer.from('\0\0\0\0\0\0\0\0', 'latin1'));
  const execute = typedMessage('E', Buffer.from('\0\0\0\0\0', 'latin1'));
  conn.write(Buffer.concat([parse, bind, execute, typedMessage('S'), queryMessage('SHOW VERSION')]));
  const m = await conn.until(() => readyCount(conn) === 2);
  assert.deepEqual(m.map((x) => x.type).join(''), 'EZTDCZ');
  assert.equal(errorFields(m[0]!.body).C, '0A000');
  conn.destroy();
});

test('bad input gets one FATAL 08P01 and a close, and the console keeps serving', async () => {
  const cases: [string, Buffer][] = [
    ['a length below 4', Buffer.from([0x51, 0, 0, 0, 2])],
    ['a length above the console limit', Buffer.from([0x51, 0x7f, 0xff, 0xff, 0xff])],
    ['an unknown message type', typedMessage('d', Buffer.from('copy data'))],
    ['a Query without its NUL', typedMessage('Q', Buffer.from('SHOW VERSION'))],
  ];
  for (const [what, bytes] of cases) {
    const conn = await openConsole();
    conn.write(bytes);
    const err = await conn.error();
    assert.equal(err?.S, 'FATAL', what);
    assert.equal(err?.C, '08P01', what);
    assert.equal(await conn.waitClosed(), true, what);
  }
  await stillServes();
});

test('a client that goes away in the middle of a command does not disturb the console', async () => {
  const conn = await openConsole();
  conn.write(queryMessage('SHOW CLIENTS').subarray(0, 7));
  conn.destroy();
  await conn.waitClosed();
  await stillServes();
  await waitFor(() => admin.console.sessions.size === 0, 'every console session to be gone');
});
