/**
 * The accept phase tells its host how each connection left it, exactly once: the metrics count
 * a handshake by that end (gateway.ts finished()), with nothing kept per connection to do it.
 * Plain TCP (tls mode disable): the ends do not depend on TLS.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { IncomingConnection, type AcceptEnd, type AcceptHost } from './client-accept.js';
import { PgmoatError } from '../util/errors.js';

function int32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
}

const packet = (code: number, body: Buffer = Buffer.alloc(0)): Buffer => Buffer.concat([int32(8 + body.length), int32(code), body]);
const STARTUP = packet(0x0003_0000, Buffer.from('user\0app\0database\0appdb\0\0', 'latin1'));
const CANCEL = packet(80877102, Buffer.concat([int32(7), int32(9)]));
const BAD_VERSION = packet(0x0009_0000);

interface Seen {
  conn: IncomingConnection;
  calls: string[];
}

/** A server whose connections go through IncomingConnection, recording what the host is told. */
async function withServer(run: (port: number, accepted: () => Promise<Seen>) => Promise<void>): Promise<void> {
  const seen: Seen[] = [];
  const server = createServer((socket) => {
    const calls: string[] = [];
    const host: AcceptHost = {
      tlsMode: 'disable',
      startTls: () => calls.push('startTls'),
      checkCertificate: () => {
        throw new Error('no TLS here');
      },
      login: (req) => {
        calls.push('login');
        req.socket.destroy();
      },
      refused: (_conn, err) => calls.push(`refused:${err.code}`),
      cancel: () => calls.push('cancel'),
      finished: (_conn, end: AcceptEnd) => calls.push(`finished:${end}`),
    };
    seen.push({ conn: new IncomingConnection(socket, host), calls });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  let taken = 0;
  const accepted = async (): Promise<Seen> => {
    while (seen.length <= taken) await sleep(5);
    return seen[taken++]!;
  };
  try {
    await run(port, accepted);
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

async function client(port: number): Promise<Socket> {
  const s = connect({ host: '127.0.0.1', port });
  s.on('error', () => undefined);
  await new Promise<void>((resolve) => s.once('connect', resolve));
  return s;
}

async function until(calls: string[], n: number): Promise<void> {
  while (calls.length < n) await sleep(5);
  // Long enough for a second, wrong, call to show up after the expected ones.
  await sleep(50);
}

test('each way out of the accept phase is told once: login, refused, left', async () => {
  await withServer(async (port, accepted) => {
    const a = await client(port);
    a.write(STARTUP);
    const login = await accepted();
    await until(login.calls, 2);
    assert.deepEqual(login.calls, ['finished:login', 'login']);

    const b = await client(port);
    b.write(CANCEL);
    const cancel = await accepted();
    await until(cancel.calls, 2);
    assert.deepEqual(cancel.calls, ['cancel', 'finished:left']);

    const c = await client(port);
    const gone = await accepted();
    c.destroy();
    await until(gone.calls, 1);
    assert.deepEqual(gone.calls, ['finished:left']);

    const d = await client(port);
    d.write(BAD_VERSION);
    const bad = await accepted();
    await until(bad.calls, 2);
    assert.equal(bad.calls.length, 2, bad.calls.join());
    assert.match(bad.calls[0]!, /^refused:/);
    assert.equal(bad.calls[1], 'finished:refused');

    // The janitor's login timeout: fail(), then close(); the client then leaves too.
    const e = await client(port);
    const slow = await accepted();
    slow.conn.fail(new PgmoatError('LOGIN_TIMEOUT', 'client did not complete login within client_login_timeout'));
    slow.conn.close();
    e.destroy();
    await until(slow.calls, 2);
    assert.deepEqual(slow.calls, ['refused:LOGIN_TIMEOUT', 'finished:refused']);
    for (const s of [a, b, d]) s.destroy();
  });
});
