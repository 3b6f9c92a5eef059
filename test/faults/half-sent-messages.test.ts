/**
 * Half a message, then a hang-up, must never hurt the next client. For every kind of message the
 * relay forwards after login, a client sends its first k bytes (every k) and hangs up; then
 * another client must get an answer through the same pool of one server connection. Before the
 * fix, a server left in the middle of a CopyData went back to the pool and swallowed the next
 * client's query (issue 12, item 1). Both pool modes; also a client that stops in the middle
 * of a message and stays connected (idle_transaction_timeout ends it).
 */
import { test, after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { startGateway, type RunningGateway } from '../harness/gateway.js';
import { clientTlsSection, logEvents, nodeSsl, plainUpstream, waitFor } from '../gateway/helpers.js';
import { login, openTls, typedMessage, type RawConn } from '../gateway/raw-wire.js';
import { useFaultSetup } from './helpers.js';

const setup = useFaultSetup();

function cstr(s: string): Buffer {
  return Buffer.from(`${s}\0`, 'utf8');
}
function int16(n: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n);
  return b;
}
function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}

/** One whole message of each kind the relay forwards after login. */
const MESSAGES: Record<string, Buffer> = {
  Query: typedMessage('Q', cstr('SELECT 1')),
  Parse: typedMessage('P', Buffer.concat([cstr('s1'), cstr('SELECT $1::int'), int16(1), int32(23)])),
  Bind: typedMessage('B', Buffer.concat([cstr(''), cstr('s1'), int16(0), int16(1), int32(1), Buffer.from('7'), int16(0)])),
  Describe: typedMessage('D', Buffer.concat([Buffer.from('S'), cstr('s1')])),
  Execute: typedMessage('E', Buffer.concat([cstr(''), int32(0)])),
  Sync: typedMessage('S'),
  Close: typedMessage('C', Buffer.concat([Buffer.from('S'), cstr('s1')])),
  Flush: typedMessage('H'),
  FunctionCall: typedMessage('F', Buffer.concat([int32(1598), int16(0), int16(0), int16(0)])),
  CopyData: typedMessage('d', Buffer.from('1\t2\n')),
  CopyDone: typedMessage('c'),
  CopyFail: typedMessage('f', cstr('gave up')),
  Unknown: typedMessage('z', Buffer.from('xyz')),
};

async function loggedIn(port: number): Promise<RawConn> {
  const conn = await openTls(port, { cert: setup.app });
  const m = await login(conn, { user: 'app', database: 'appdb' });
  assert.ok(m.some((x) => x.type === 'Z'), 'login completes');
  return conn;
}

/** Writes `bytes`, then ends the TLS connection after they are sent. */
async function sendAndHangUp(conn: RawConn, bytes: Buffer): Promise<void> {
  conn.socket.end(bytes);
  await conn.waitClosed(10_000);
}

/** A real client gets an answer; a swallowed query shows as node-postgres's query_timeout. */
async function answers(client: pg.Client, what: string): Promise<void> {
  const r = await client.query<{ one: number }>('SELECT 1 AS one').catch((err: Error) => {
    throw new Error(`${what}: the next client got no answer (${err.message})`);
  });
  assert.equal(r.rows[0]!.one, 1);
}

function newClient(port: number): pg.Client {
  const c = new pg.Client({ host: '127.0.0.1', port, user: 'app', database: 'appdb', ssl: nodeSsl(setup.app), query_timeout: 15_000 });
  c.on('error', () => undefined);
  return c;
}

for (const poolMode of ['transaction', 'session'] as const) {
  describe(`${poolMode} mode, pool_size 1`, () => {
    let gw: RunningGateway;
    before(async () => {
      gw = await startGateway({
        tls: clientTlsSection(setup.pki),
        // Long enough never to be what rescues the pool here: the fix must.
        internal_query_timeout: '60s',
        server_check_delay: 0,
        databases: { appdb: plainUpstream(setup.upstream, 'appdb', { pool_size: 1, pool_mode: poolMode }) },
      });
    });
    after(async () => {
      await gw?.stop();
    });

    for (const [name, whole] of Object.entries(MESSAGES)) {
      test(`${name}: hang-up after each of its ${whole.length - 1} first bytes leaves the pool serving`, async () => {
        // In transaction mode one long-lived client checks after each cut; in session mode its
        // own session would hold the one server, so each check is a new session.
        const steady = poolMode === 'transaction' ? newClient(gw.port) : undefined;
        await steady?.connect();
        try {
          for (let k = 1; k < whole.length; k++) {
            const attacker = await loggedIn(gw.port);
            // A transaction first, so that the server is linked and the cut bytes reach it.
            attacker.write(typedMessage('Q', cstr('SELECT 1')));
            await attacker.until((m) => m.filter((x) => x.type === 'Z').length >= 2);
            await sendAndHangUp(attacker, whole.subarray(0, k));
            if (steady) {
              await answers(steady, `${name} cut after ${k} bytes`);
            } else {
              const c = newClient(gw.port);
              await c.connect();
              try {
                await answers(c, `${name} cut after ${k} bytes`);
              } finally {
                await c.end();
              }
            }
          }
        } finally {
          await steady?.end();
        }
      });
    }

    test('a CopyData that claims 100,000,000 bytes, 10 of them sent, then a hang-up', async () => {
      const attacker = await loggedIn(gw.port);
      attacker.write(typedMessage('Q', cstr('SELECT 1')));
      await attacker.until((m) => m.filter((x) => x.type === 'Z').length >= 2);
      const header = Buffer.concat([Buffer.from('d'), int32(100_000_000)]);
      await sendAndHangUp(attacker, Buffer.concat([header, Buffer.alloc(10, 0x41)]));
      const c = newClient(gw.port);
      await c.connect();
      try {
        await answers(c, 'after the 100 MB CopyData claim');
        await answers(c, 'a second query');
      } finally {
        await c.end();
      }
      const closed = logEvents(gw, 'server_closed').filter((l) => l.reason === 'client left in the middle of a message');
      assert.ok(closed.length > 0, 'the server left in the middle of a message was closed, and logged');
      assert.ok(closed.every((l) => l.level === 30), 'at info level');
    });
  });
}

test('a client that stops in the middle of a message and stays is ended by idle_transaction_timeout', async () => {
  const gw = await startGateway({
    tls: clientTlsSection(setup.pki),
    pool_mode: 'transaction',
    idle_transaction_timeout: '1s',
    databases: { appdb: plainUpstream(setup.upstream, 'appdb', { pool_size: 1 }) },
  });
  try {
    const attacker = await loggedIn(gw.port);
    attacker.write(Buffer.concat([Buffer.from('d'), int32(100_000_000), Buffer.alloc(10, 0x41)]));
    const c = newClient(gw.port);
    await c.connect();
    try {
      await answers(c, 'while the other client sits in the middle of a CopyData');
    } finally {
      await c.end();
    }
    const err = await attacker.error(15_000);
    assert.equal(err?.C, '25P03', 'the stalled client is told why');
    await waitFor(() => attacker.closed, 'the stalled client is closed');
  } finally {
    await gw.stop();
  }
});
