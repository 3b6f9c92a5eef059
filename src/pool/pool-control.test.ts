// PAUSE, RESUME, RECONNECT and KILL (closeAll) on one pool over fake sockets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PgmoatError } from '../util/errors.js';
import { be, cstringAt, errorOf, fe, messages } from '../relay/wire.test-helper.js';
import { addClient, makePool, serverOn, settle } from './pool.test-helper.js';

/** A pool of 2 whose client `a` holds server `s` in an open transaction (BEGIN answered). */
async function clientInTransaction() {
  const { pool, upstreams } = makePool({ poolSize: 2 });
  const a = addClient(pool);
  a.socket.receive(fe.query('BEGIN'));
  await settle();
  const s = upstreams.sockets[0]!;
  s.receive(Buffer.concat([be.commandComplete('BEGIN'), be.ready('T')]));
  return { pool, upstreams, a, s };
}

test('PAUSE holds new transactions and resolves once no server is in use; RESUME lets the waiting client through', async () => {
  const { pool, upstreams, a, s } = await clientInTransaction();
  s.take();

  let paused = false;
  const pausing = pool.pause().then(() => {
    paused = true;
  });
  await settle();
  assert.equal(paused, false, 'a transaction is still running');
  assert.equal(pool.paused, true);

  const b = addClient(pool);
  b.socket.receive(fe.query('SELECT 1'));
  await settle();
  assert.equal(b.session.phase, 'waiting');
  assert.equal(pool.connecting, 0, 'a paused pool opens nothing, though pool_size leaves room');
  assert.equal(upstreams.sockets.length, 1);

  // The running transaction may finish; its server is not handed to the waiting client.
  a.socket.receive(fe.query('COMMIT'));
  s.receive(Buffer.concat([be.commandComplete('COMMIT'), be.ready('I')]));
  assert.equal(a.session.phase, 'idle');
  assert.equal(b.session.phase, 'waiting');
  await pausing;
  assert.equal(paused, true);
  assert.deepEqual(messages(s.take()).map((m) => cstringAt(m.body)), ['COMMIT']);

  pool.resume();
  assert.equal(pool.paused, false);
  assert.equal(b.session.server, serverOn(pool, s));
  assert.deepEqual(messages(s.take()).map((m) => cstringAt(m.body)), ['SELECT 1']);
});

test('PAUSE with no server in use resolves at once', async () => {
  const { pool } = makePool();
  await pool.pause();
  assert.equal(pool.paused, true);
});

test('RECONNECT closes idle servers at once and retires busy ones when their client is done', async () => {
  const { pool, upstreams, log } = makePool({ poolSize: 2 });
  const a = addClient(pool);
  const b = addClient(pool);
  a.socket.receive(fe.query('SELECT 1'));
  b.socket.receive(fe.query('BEGIN'));
  await settle();
  const [s1, s2] = [upstreams.sockets[0]!, upstreams.sockets[1]!];
  const server2 = serverOn(pool, s2);
  s1.receive(Buffer.concat([be.commandComplete('SELECT 1'), be.ready('I')]));
  s2.receive(Buffer.concat([be.commandComplete('BEGIN'), be.ready('T')]));
  assert.equal(pool.idleServers.length, 1);

  pool.reconnect();
  assert.equal(s1.destroyed, true, 'the idle one goes now');
  assert.equal(server2.phase, 'active', 'the busy one keeps its client');
  assert.equal(server2.retire, true);
  assert.equal(log.find((l) => l.event === 'server_closed')?.reason, 'RECONNECT');

  b.socket.receive(fe.query('COMMIT'));
  s2.receive(Buffer.concat([be.commandComplete('COMMIT'), be.ready('I')]));
  assert.equal(server2.phase, 'closed', 'retired when it came back');
  assert.equal(s2.destroyed, true);
  assert.equal(pool.serverCount, 0);
  assert.equal(b.session.phase, 'idle', 'the client stays');

  b.socket.receive(fe.query('SELECT 2'));
  assert.equal(pool.connecting, 1, 'the next request opens a new server');
  await settle();
  assert.deepEqual(messages(upstreams.sockets[2]!.take()).map((m) => cstringAt(m.body)), ['SELECT 2']);
});

test('KILL (closeAll) ends every client with its error and every server, and hands no server to a waiting client on the way', async () => {
  const { pool, upstreams, closed } = makePool({ poolMode: 'session', poolSize: 1 });
  const a = addClient(pool);
  a.socket.receive(fe.query('SELECT 1'));
  await settle();
  const s = upstreams.sockets[0]!;
  s.receive(Buffer.concat([be.commandComplete('SELECT 1'), be.ready('I')]));
  s.take();
  const b = addClient(pool);
  b.socket.receive(fe.query('SELECT 2'));
  const c = addClient(pool);
  assert.deepEqual([a.session.phase, b.session.phase, c.session.phase], ['active', 'waiting', 'idle']);

  pool.closeAll(new PgmoatError('KILLED', 'terminating connection due to administrator command', { sqlstate: '57P01' }));
  for (const x of [a, b, c]) {
    assert.equal(x.session.phase, 'closed');
    const err = errorOf(messages(x.socket.take()).at(-1)!.body);
    assert.equal(err.code, '57P01');
  }
  assert.equal(closed.length, 3);
  assert.equal(s.destroyed, true);
  assert.equal(pool.clientCount, 0);
  assert.equal(pool.serverCount, 0);
  // The waiting client's query never reached the server freed by the active one.
  assert.equal(
    s.written.some((w) => w.includes('SELECT 2')),
    false,
  );
});

test('RESUME answers a PAUSE that is still waiting for a server in use (it never resolved before)', async () => {
  const { pool, a, s } = await clientInTransaction();
  let settled = false;
  const pausing = pool.pause().then(() => {
    settled = true;
  });
  await settle();
  assert.equal(settled, false, 'the transaction still holds its server');
  pool.resume();
  await pausing;
  assert.equal(settled, true);
  assert.equal(pool.paused, false);
});
