// The janitor's sweeps over one pool, with the clock handed in (no waiting, no timing assertion):
// query_wait_timeout, internal_query_timeout and the requeue it causes, query_timeout,
// idle_transaction_timeout, client_idle_timeout, server_idle_timeout, server_lifetime,
// min_pool_size, and the stalled-pool report.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { be, cstringAt, errorOf, fe, messages, types } from '../relay/wire.test-helper.js';
import { addClient, makePool, serverOn, settle, type TestClient, type TestPool } from './pool.test-helper.js';

/** A client holding the pool's (first) server inside a transaction. */
async function holdInTransaction(t: TestPool): Promise<TestClient> {
  const a = addClient(t.pool);
  a.socket.receive(fe.query('BEGIN'));
  await settle();
  const s = t.upstreams.sockets[0]!;
  s.receive(Buffer.concat([be.commandComplete('BEGIN'), be.ready('T')]));
  s.take();
  a.socket.take();
  return a;
}

test('query_wait_timeout: a client that waited too long gets 57014 for each request it sent, and keeps its session', async () => {
  const t = makePool({ poolSize: 1, queryWaitTimeout: 1000 });
  const { pool, upstreams, closed, log } = t;
  const a = await holdInTransaction(t);
  const b = addClient(pool);
  b.socket.receive(Buffer.concat([fe.query('SELECT 1'), fe.parse('', 'SELECT 2'), fe.bind('', ''), fe.execute(), fe.sync()]));
  assert.equal(b.session.phase, 'waiting');
  const since = b.session.waitingSince;

  pool.sweep(since + 999);
  assert.equal(b.session.phase, 'waiting');
  pool.sweep(since + 1000);
  assert.equal(b.session.phase, 'idle');
  assert.equal(pool.waitingClients.length, 0);
  // The Query gets ERROR + ReadyForQuery; the extended batch one ERROR, then ReadyForQuery at its Sync.
  const out = messages(b.socket.take());
  assert.equal(out.map((m) => m.type).join(''), 'EZEZ');
  const err = errorOf(out[0]!.body);
  assert.equal(err.code, '57014');
  assert.equal(err.severity, 'ERROR');
  assert.match(err.message, /within query_wait_timeout \(1 s\)/);
  assert.deepEqual(closed, [], 'the session stays');
  assert.equal(b.socket.paused, false, 'and is read again');
  const line = log.find((l) => l.event === 'query_wait_timeout');
  assert.match(String(line?.detail), /1 in use by clients/);

  // It may try again: once the transaction ends it gets the server.
  a.socket.receive(fe.query('COMMIT'));
  upstreams.sockets[0]!.receive(Buffer.concat([be.commandComplete('COMMIT'), be.ready('I')]));
  b.socket.receive(fe.query('SELECT 3'));
  assert.equal(b.session.phase, 'active');
  assert.deepEqual(messages(upstreams.sockets[0]!.take()).map((m) => cstringAt(m.body)), ['COMMIT', 'SELECT 3']);
});

test('internal_query_timeout on a settings query: that server is closed and its client waits again at the head of the queue, its wait still counting', async () => {
  const t = makePool({ poolSize: 1, internalQueryTimeout: 500 });
  const { pool, upstreams, closed, log } = t;
  const a = addClient(pool, new Map([['application_name', 'x']]));
  a.socket.receive(fe.query('SELECT 1'));
  await settle();
  const s1 = upstreams.sockets[0]!;
  const server1 = serverOn(pool, s1);
  assert.equal(server1.phase, 'internal');
  const b = addClient(pool);
  b.socket.receive(fe.query('SELECT 2'));
  assert.equal(b.session.phase, 'waiting');
  const since = a.session.waitingSince;
  const deadline = server1.internalDeadline;
  assert.ok(deadline > 0);

  pool.sweep(deadline - 1);
  assert.equal(server1.phase, 'internal');
  pool.sweep(deadline);
  assert.equal(server1.phase, 'closed');
  assert.equal(s1.destroyed, true);
  assert.equal(a.session.phase, 'waiting');
  assert.equal(a.session.settingUp, false);
  assert.equal(a.session.server, null);
  assert.deepEqual(pool.waitingClients, [a.session, b.session], 'back at the head of the queue');
  assert.equal(a.session.waitingSince, since, 'query_wait_timeout still counts from its first wait');
  assert.deepEqual(closed, []);
  const line = log.find((l) => l.event === 'server_closed');
  assert.equal(line?.reason, 'settings query did not answer within internal_query_timeout (500 ms)');
  assert.equal(line?.level, 40, 'warn');
  assert.equal(line?.had_client, true);

  // A new server: the settings again, then what the client sent, which it never saw fail.
  assert.equal(pool.connecting, 1);
  await settle();
  const s2 = upstreams.sockets[1]!;
  const server2 = serverOn(pool, s2);
  assert.equal(a.session.server, server2);
  assert.equal(server2.internalPurpose, 'settings');
  s2.take();
  s2.receive(Buffer.concat([be.dataRow('x'), be.commandComplete('SELECT 1'), be.ready('I')]));
  assert.deepEqual(messages(s2.take()).map((m) => cstringAt(m.body)), ['SELECT 1']);
  assert.equal(a.socket.written.length, 0);
});

test('internal_query_timeout on a server check: the server is closed and replaced', async () => {
  const t = makePool({ poolSize: 1, internalQueryTimeout: 500, serverCheckQuery: 'SELECT 1', serverCheckDelay: 0 });
  const { pool, upstreams } = t;
  const a = addClient(pool);
  a.socket.receive(fe.query('SELECT 1'));
  await settle();
  const s1 = upstreams.sockets[0]!;
  s1.receive(Buffer.concat([be.commandComplete('SELECT 1'), be.ready('I')]));
  a.socket.receive(fe.query('SELECT 2'));
  const server1 = serverOn(pool, s1);
  assert.equal(server1.internalPurpose, 'check');
  pool.sweep(server1.internalDeadline);
  assert.equal(s1.destroyed, true);
  await settle();
  assert.equal(a.session.server, serverOn(pool, upstreams.sockets[1]!));
});

test('query_timeout closes a server that owes an answer for too long and tells its client 57014; one that owes nothing stays', async () => {
  const t = makePool({ queryTimeout: 2000 });
  const { pool, upstreams, closed } = t;
  const a = addClient(pool);
  a.socket.receive(fe.query('SELECT 1'));
  await settle();
  const s = upstreams.sockets[0]!;
  const server = serverOn(pool, s);
  s.receive(Buffer.concat([be.commandComplete('SELECT 1'), be.ready('T')]));
  assert.equal(server.busySince, 0, 'owes nothing');
  pool.sweep(Date.now() + 60_000);
  assert.equal(server.phase, 'active', 'idle in a transaction is not query_timeout');

  a.socket.receive(fe.query('SELECT pg_sleep(60)'));
  const busy = server.busySince;
  assert.ok(busy > 0);
  pool.sweep(busy + 1999);
  assert.equal(server.phase, 'active');
  pool.sweep(busy + 2000);
  assert.equal(server.phase, 'closed');
  assert.equal(a.session.phase, 'closed');
  assert.deepEqual(closed.map((x) => x.reason), ['server connection lost: query_timeout']);
  const err = errorOf(messages(a.socket.take()).at(-1)!.body);
  assert.equal(err.code, '57014');
  assert.match(err.message, /query_timeout \(2 s\)/);
});

test('idle_transaction_timeout ends a client idle inside a transaction, counting from its last message or answer', async () => {
  const t = makePool({ idleTransactionTimeout: 1000 });
  const { pool, closed } = t;
  const a = await holdInTransaction(t);
  const server = a.session.server!;
  const from = Math.max(a.session.lastActivity, server.lastResponseAt);
  pool.sweep(from + 999);
  assert.equal(a.session.phase, 'active');
  pool.sweep(from + 1000);
  assert.equal(a.session.phase, 'closed');
  assert.deepEqual(closed.map((x) => x.reason), ['idle_transaction_timeout']);
  assert.equal(errorOf(messages(a.socket.take()).at(-1)!.body).code, '25P03');
  assert.equal(server.phase, 'closed', 'a server left inside a transaction is not reused');
});

test('client_idle_timeout ends a client with no server, and in session mode one whose server has nothing pending; never a waiting one', async () => {
  const t = makePool({ poolMode: 'session', poolSize: 1, clientIdleTimeout: 1000 });
  const { pool, upstreams, closed } = t;
  const a = addClient(pool);
  a.socket.receive(fe.query('SELECT 1'));
  await settle();
  upstreams.sockets[0]!.receive(Buffer.concat([be.commandComplete('SELECT 1'), be.ready('I')]));
  const b = addClient(pool);
  b.socket.receive(fe.query('SELECT 2'));
  assert.equal(b.session.phase, 'waiting');
  const c = addClient(pool);
  const late = Math.max(a.session.lastActivity, c.session.lastActivity, a.session.server!.lastResponseAt) + 1000;
  pool.sweep(late);
  assert.equal(a.session.phase, 'closed');
  assert.equal(c.session.phase, 'closed');
  assert.deepEqual(closed.map((x) => x.reason).sort(), ['client_idle_timeout', 'client_idle_timeout']);
  assert.equal(errorOf(messages(c.socket.take()).at(-1)!.body).code, '57P05');
  // a's server went to b, who was waiting and is not idle.
  assert.equal(b.session.phase, 'active');
});

test('server_idle_timeout closes idle servers down to min_pool_size; server_lifetime closes old ones; min_pool_size opens servers', async () => {
  const t = makePool({ poolSize: 3, minPoolSize: 1, serverIdleTimeout: 1000 });
  const { pool, upstreams, log } = t;
  const a = addClient(pool);
  const b = addClient(pool);
  a.socket.receive(fe.query('SELECT 1'));
  b.socket.receive(fe.query('SELECT 1'));
  await settle();
  for (const s of upstreams.sockets) s.receive(Buffer.concat([be.commandComplete('SELECT 1'), be.ready('I')]));
  assert.equal(pool.idleServers.length, 2);
  // The two servers went idle a millisecond or more apart: sweep relative to each end.
  const firstIdle = Math.min(...pool.idleServers.map((s) => s.idleSince));
  const lastIdle = Math.max(...pool.idleServers.map((s) => s.idleSince));
  pool.sweep(firstIdle + 1000);
  assert.equal(pool.idleServers.length, 2, 'not over server_idle_timeout yet');
  pool.sweep(lastIdle + 1001);
  assert.equal(pool.idleServers.length, 1, 'min_pool_size keeps one');
  assert.equal(log.filter((l) => l.event === 'server_closed' && l.reason === 'server_idle_timeout').length, 1);

  pool.settings = { ...pool.settings, serverLifetime: 5000, serverIdleTimeout: 0, minPoolSize: 0 };
  const left = pool.idleServers[0]!;
  pool.sweep(left.createdAt + 5000);
  assert.equal(left.phase, 'idle');
  pool.sweep(left.createdAt + 5001);
  assert.equal(left.phase, 'closed');
  assert.equal(log.filter((l) => l.event === 'server_closed' && l.reason === 'server_lifetime').length, 1);

  pool.settings = { ...pool.settings, minPoolSize: 2 };
  pool.sweep(Date.now());
  assert.equal(pool.connecting, 2, 'min_pool_size opens servers nobody asked for yet');
});

test('a pool whose waiting clients get no server says so once (pool_stalled), and again when they stop waiting', async () => {
  const t = makePool({ poolSize: 1 });
  const { pool, log, upstreams } = t;
  const a = await holdInTransaction(t);
  const b = addClient(pool);
  b.socket.receive(fe.query('SELECT 1'));
  const start = Date.now();
  pool.sweep(start + 5000);
  assert.equal(log.filter((l) => l.event === 'pool_stalled').length, 0);
  pool.sweep(start + 10_000);
  const stalled = log.filter((l) => l.event === 'pool_stalled');
  assert.equal(stalled.length, 1);
  assert.equal(stalled[0]!.waiting_clients, 1);
  assert.match(String(stalled[0]!.detail), /Pool appdb\/app has 1 server connection of at most 1: 1 in use by clients/);
  pool.sweep(start + 10_250);
  assert.equal(log.filter((l) => l.event === 'pool_stalled').length, 1, 'said once');

  a.socket.receive(fe.query('COMMIT'));
  upstreams.sockets[0]!.receive(Buffer.concat([be.commandComplete('COMMIT'), be.ready('I')]));
  assert.equal(b.session.phase, 'active');
  pool.sweep(start + 10_500);
  const progress = log.filter((l) => l.event === 'pool_progress');
  assert.equal(progress.length, 1);
  assert.equal(progress[0]!.msg, 'pool has no client waiting any more');
  assert.equal(types(b.socket.take()), '');
});
