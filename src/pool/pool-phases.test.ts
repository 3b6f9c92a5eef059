// The pool's state transitions, driven message by message over fake sockets (no PostgreSQL):
// clients idle → waiting → active → idle, servers idle → active → idle, through pgmoat's own
// queries (check, reset, settings) and out by closing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { UpstreamError } from '../upstream/connect.js';
import { be, cstringAt, errorOf, fe, messages, msg, types } from '../relay/wire.test-helper.js';
import { addClient, makePool, phases, serverOn, settle } from './pool.test-helper.js';

const NONE = { idleClients: 0, waitingClients: 0, activeClients: 0, idleServers: 0, activeServers: 0, internalServers: 0, connecting: 0 };

test('transaction mode: a client goes idle → waiting → active → idle and its server idle → active → idle', async () => {
  const { pool, upstreams } = makePool({ poolSize: 1 }, { autoAccept: false });
  const a = addClient(pool);
  assert.equal(a.session.phase, 'idle');
  assert.deepEqual(phases(pool), { ...NONE, idleClients: 1 });

  a.socket.receive(fe.query('SELECT 1'));
  assert.equal(a.session.phase, 'waiting');
  assert.deepEqual(phases(pool), { ...NONE, waitingClients: 1, connecting: 1 });
  assert.equal(a.socket.paused, true, 'a waiting client is not read');

  upstreams.accept();
  await settle();
  const server = a.session.server!;
  assert.ok(server, 'linked');
  assert.equal(a.session.phase, 'active');
  assert.equal(server.phase, 'active');
  assert.equal(server.client, a.session);
  assert.deepEqual(phases(pool), { ...NONE, activeClients: 1, activeServers: 1 });
  assert.equal(a.socket.paused, false, 'read again once linked');
  const sent = messages(upstreams.sockets[0]!.take());
  assert.deepEqual(sent.map((m) => [m.type, cstringAt(m.body)]), [['Q', 'SELECT 1']], 'what it sent while waiting reached the server');

  // Inside a transaction the server stays with the client.
  upstreams.sockets[0]!.receive(Buffer.concat([be.commandComplete('BEGIN'), be.ready('T')]));
  assert.equal(a.session.phase, 'active');
  assert.equal(server.phase, 'active');
  a.socket.receive(fe.query('COMMIT'));
  upstreams.sockets[0]!.receive(Buffer.concat([be.commandComplete('COMMIT'), be.ready('I')]));
  assert.equal(types(a.socket.take()), 'CZCZ');
  assert.equal(a.session.phase, 'idle');
  assert.equal(server.phase, 'idle');
  assert.equal(a.session.server, null);
  assert.equal(server.client, null);
  assert.deepEqual(phases(pool), { ...NONE, idleClients: 1, idleServers: 1 });
  assert.equal(pool.stats.transactions, 1);
  assert.equal(pool.stats.queries, 2);

  // The next request gets the idle server at once: no connect.
  a.socket.receive(fe.query('SELECT 2'));
  assert.equal(a.session.server, server);
  assert.equal(pool.connecting, 0);
  assert.equal(server.timesLinked, 2);
});

test('waiting clients get a released server in the order they came; pool_size caps the servers', async () => {
  const { pool, upstreams } = makePool({ poolSize: 1 });
  const a = addClient(pool);
  const b = addClient(pool);
  const c = addClient(pool);
  a.socket.receive(fe.query('BEGIN'));
  await settle();
  const s = upstreams.sockets[0]!;
  s.receive(Buffer.concat([be.commandComplete('BEGIN'), be.ready('T')]));
  b.socket.receive(fe.query('SELECT 2'));
  c.socket.receive(fe.query('SELECT 3'));
  await settle();
  assert.deepEqual(phases(pool), { ...NONE, waitingClients: 2, activeClients: 1, activeServers: 1 });
  assert.equal(upstreams.sockets.length, 1, 'no second server over pool_size');
  assert.deepEqual(pool.waitingClients, [b.session, c.session]);

  s.take();
  a.socket.receive(fe.query('COMMIT'));
  s.receive(Buffer.concat([be.commandComplete('COMMIT'), be.ready('I')]));
  assert.equal(b.session.phase, 'active', 'the first to wait gets it');
  assert.equal(c.session.phase, 'waiting');
  assert.deepEqual(messages(s.take()).map((m) => cstringAt(m.body)), ['COMMIT', 'SELECT 2']);
  s.receive(Buffer.concat([be.commandComplete('SELECT 1'), be.ready('I')]));
  assert.equal(c.session.phase, 'active');
  assert.equal(b.session.phase, 'idle');
  assert.ok(pool.stats.waitMsTotal >= 0);
});

test('session mode: the server stays linked after ReadyForQuery; the session end runs the reset query (internal), then idle', async () => {
  const { pool, upstreams, closed } = makePool({ poolMode: 'session', serverResetQuery: 'DISCARD ALL' });
  const a = addClient(pool);
  a.socket.receive(fe.query('SELECT 1'));
  await settle();
  const s = upstreams.sockets[0]!;
  const server = serverOn(pool, s);
  s.take();
  s.receive(Buffer.concat([be.commandComplete('SELECT 1'), be.ready('I')]));
  assert.equal(a.session.phase, 'active', 'session mode keeps the link');
  assert.equal(server.phase, 'active');

  a.socket.hangUp();
  await settle();
  assert.equal(a.session.phase, 'closed');
  assert.deepEqual(closed.map((x) => x.reason), ['client closed the connection']);
  assert.equal(server.phase, 'internal', 'the reset query runs');
  assert.equal(server.internalPurpose, 'reset');
  assert.deepEqual(messages(s.take()).map((m) => [m.type, cstringAt(m.body)]), [['Q', 'DISCARD ALL']]);
  assert.deepEqual(phases(pool), { ...NONE, internalServers: 1 });
  s.receive(Buffer.concat([be.commandComplete('DISCARD ALL'), be.ready('I')]));
  assert.equal(server.phase, 'idle');
  assert.deepEqual(phases(pool), { ...NONE, idleServers: 1 });
});

test('a reset query that fails closes the server instead of returning it', async () => {
  const { pool, upstreams } = makePool({ poolMode: 'session', serverResetQuery: 'DISCARD ALL' });
  const a = addClient(pool);
  a.socket.receive(fe.query('SELECT 1'));
  await settle();
  const s = upstreams.sockets[0]!;
  const server = serverOn(pool, s);
  s.receive(Buffer.concat([be.commandComplete('SELECT 1'), be.ready('I')]));
  a.socket.hangUp();
  await settle();
  assert.equal(server.phase, 'internal');
  s.receive(Buffer.concat([be.error('XX000', 'no'), be.ready('I')]));
  assert.equal(server.phase, 'closed');
  assert.equal(s.destroyed, true);
  assert.equal(pool.serverCount, 0);
});

test('a client that leaves in the middle of a message closes its server: the rest would be read as that message', async () => {
  const { pool, upstreams, log } = makePool();
  const a = addClient(pool);
  // CopyData is relayed as it comes (not assembled): its first bytes reach the server at once.
  const copyData = msg('d', Buffer.from('1\tone\n'));
  a.socket.receive(copyData.subarray(0, 8));
  await settle();
  const s = upstreams.sockets[0]!;
  const server = serverOn(pool, s);
  assert.equal(server.phase, 'active');
  assert.equal(s.take().length, 8, 'the first bytes went on');
  a.socket.hangUp();
  await settle();
  assert.equal(server.phase, 'closed');
  assert.equal(s.destroyed, true);
  assert.deepEqual(phases(pool), NONE);
  const line = log.find((l) => l.event === 'server_closed');
  assert.equal(line?.reason, 'client left in the middle of a message');
});

test('a client that leaves at a message boundary with nothing pending gives its server back', async () => {
  const { pool, upstreams } = makePool({ poolMode: 'session' });
  const a = addClient(pool);
  a.socket.receive(fe.query('SELECT 1'));
  await settle();
  const s = upstreams.sockets[0]!;
  s.receive(Buffer.concat([be.commandComplete('SELECT 1'), be.ready('I')]));
  a.socket.hangUp();
  await settle();
  assert.deepEqual(phases(pool), { ...NONE, idleServers: 1 });
  assert.equal(s.destroyed, false);
});

test('a client that leaves while the server still owes an answer: the server is closed, not reused', async () => {
  const { pool, upstreams } = makePool();
  const a = addClient(pool);
  a.socket.receive(fe.query('SELECT pg_sleep(10)'));
  await settle();
  const s = upstreams.sockets[0]!;
  a.socket.hangUp();
  await settle();
  assert.equal(s.destroyed, true);
  assert.equal(pool.serverCount, 0);
});

test('startup settings: the link goes through internal (settings query) before the client\'s request reaches the server', async () => {
  const { pool, upstreams } = makePool();
  const a = addClient(pool, new Map([['application_name', 'billing']]));
  a.socket.receive(fe.query('SELECT 1'));
  await settle();
  const s = upstreams.sockets[0]!;
  const server = serverOn(pool, s);
  assert.equal(server.phase, 'internal');
  assert.equal(server.internalPurpose, 'settings');
  assert.equal(a.session.phase, 'active');
  assert.equal(a.session.settingUp, true);
  const first = messages(s.take());
  assert.equal(first.length, 1, 'only the settings query so far');
  assert.match(cstringAt(first[0]!.body), /set_config\(E'application_name', E'billing', false\)/);
  // What the client sends meanwhile waits behind the settings.
  a.socket.receive(fe.query('SELECT 2'));
  assert.equal(s.written.length, 0);

  s.receive(Buffer.concat([be.dataRow('billing'), be.commandComplete('SELECT 1'), be.ready('I')]));
  assert.equal(server.phase, 'active');
  assert.equal(a.session.settingUp, false);
  assert.deepEqual(messages(s.take()).map((m) => cstringAt(m.body)), ['SELECT 1', 'SELECT 2']);
  assert.equal(a.socket.written.length, 0, 'the settings answer is never relayed');
  assert.equal(server.appliedFor, a.session);

  // Back in the pool and linked again to the same client: the settings are not sent twice.
  s.receive(Buffer.concat([be.commandComplete('SELECT 1'), be.ready('I'), be.commandComplete('SELECT 1'), be.ready('I')]));
  assert.equal(server.phase, 'idle');
  a.socket.receive(fe.query('SELECT 3'));
  assert.equal(server.phase, 'active');
  assert.deepEqual(messages(s.take()).map((m) => cstringAt(m.body)), ['SELECT 3']);
});

test('startup settings the server refuses end the session with a FATAL, and the server goes', async () => {
  const { pool, upstreams, closed } = makePool();
  const a = addClient(pool, new Map([['search_path', 'nope']]));
  a.socket.receive(fe.query('SELECT 1'));
  await settle();
  const s = upstreams.sockets[0]!;
  s.receive(Buffer.concat([be.error('22023', 'invalid value for parameter'), be.ready('I')]));
  await settle();
  assert.equal(a.session.phase, 'closed');
  assert.deepEqual(closed.map((x) => x.reason), ['startup settings refused']);
  const out = messages(a.socket.take());
  assert.equal(out.length, 1);
  assert.deepEqual(errorOf(out[0]!.body), { severity: 'FATAL', code: '22023', message: 'invalid value for parameter' });
  assert.equal(s.destroyed, true, 'a server whose settings state is unknown is not reused');
  assert.deepEqual(phases(pool), NONE);
});

test('a client that leaves while its settings are applied closes that server (the SET must not outlive it)', async () => {
  const { pool, upstreams, log } = makePool();
  const a = addClient(pool, new Map([['application_name', 'x']]));
  a.socket.receive(fe.query('SELECT 1'));
  await settle();
  const s = upstreams.sockets[0]!;
  assert.equal(serverOn(pool, s).phase, 'internal');
  a.socket.hangUp();
  await settle();
  assert.equal(s.destroyed, true);
  assert.deepEqual(phases(pool), NONE);
  assert.equal(log.find((l) => l.event === 'server_closed')?.reason, 'client left while its session settings were being applied');
});

test('a server under check counts as busy: the pool opens another for the waiting client, up to pool_size', async () => {
  const { pool, upstreams } = makePool({ poolSize: 2, serverCheckQuery: 'SELECT 1', serverCheckDelay: 0 });
  const a = addClient(pool);
  a.socket.receive(fe.query('SELECT 1'));
  await settle();
  const s1 = upstreams.sockets[0]!;
  const server1 = serverOn(pool, s1);
  s1.take();
  s1.receive(Buffer.concat([be.commandComplete('SELECT 1'), be.ready('I')]));
  assert.equal(server1.phase, 'idle');

  // Used before and idle for at least server_check_delay (0): checked before reuse.
  const b = addClient(pool);
  b.socket.receive(fe.query('SELECT 2'));
  assert.equal(server1.phase, 'internal');
  assert.equal(server1.internalPurpose, 'check');
  assert.deepEqual(messages(s1.take()).map((m) => cstringAt(m.body)), ['SELECT 1']);
  assert.equal(pool.connecting, 1, 'a check that may hang does not hold the waiting client: a new server is opened');
  await settle();
  const s2 = upstreams.sockets[1]!;
  assert.equal(b.session.server, serverOn(pool, s2));
  assert.deepEqual(messages(s2.take()).map((m) => cstringAt(m.body)), ['SELECT 2']);

  // The check answers: back to idle (nobody waits).
  s1.receive(Buffer.concat([be.commandComplete('SELECT 1'), be.ready('I')]));
  assert.equal(server1.phase, 'idle');

  // At pool_size, a third client waits while the check runs.
  s2.receive(Buffer.concat([be.commandComplete('SELECT 1'), be.ready('T')]));
  const c = addClient(pool);
  c.socket.receive(fe.query('SELECT 3'));
  assert.equal(server1.phase, 'internal');
  await settle();
  assert.equal(pool.connecting, 0);
  assert.equal(upstreams.sockets.length, 2, 'no third server over pool_size');
  assert.equal(c.session.phase, 'waiting');
  s1.take();
  s1.receive(Buffer.concat([be.commandComplete('SELECT 1'), be.ready('I')]));
  assert.equal(c.session.server, server1, 'checked just now: straight to the waiting client');
  assert.deepEqual(messages(s1.take()).map((m) => cstringAt(m.body)), ['SELECT 3']);
});

test('a failed server check closes that server and the waiting client gets another', async () => {
  const { pool, upstreams } = makePool({ poolSize: 1, serverCheckQuery: 'SELECT 1', serverCheckDelay: 0 });
  const a = addClient(pool);
  a.socket.receive(fe.query('SELECT 1'));
  await settle();
  const s1 = upstreams.sockets[0]!;
  s1.receive(Buffer.concat([be.commandComplete('SELECT 1'), be.ready('I')]));
  a.socket.receive(fe.query('SELECT 2'));
  assert.equal(serverOn(pool, s1).phase, 'internal');
  assert.equal(pool.connecting, 0, 'pool_size 1 is taken by the server under check');
  s1.receive(Buffer.concat([be.error('57P01', 'terminating connection'), be.ready('I')]));
  assert.equal(s1.destroyed, true);
  assert.equal(pool.connecting, 1);
  await settle();
  const s2 = upstreams.sockets[1]!;
  assert.equal(a.session.server, serverOn(pool, s2));
});

test('a server the upstream closed ends its client with 08006; servers idle since then are checked before reuse', async () => {
  const { pool, upstreams, closed } = makePool({ poolSize: 2, serverCheckQuery: 'SELECT 1', serverCheckDelay: 3_600_000 });
  const a = addClient(pool);
  const b = addClient(pool);
  a.socket.receive(fe.query('SELECT 1'));
  b.socket.receive(fe.query('SELECT 1'));
  await settle();
  const s1 = upstreams.sockets[0]!;
  const s2 = upstreams.sockets[1]!;
  const server1 = serverOn(pool, s1);
  assert.equal(a.session.server, server1);
  assert.equal(b.session.server, serverOn(pool, s2));
  s1.receive(Buffer.concat([be.commandComplete('SELECT 1'), be.ready('I')]));
  assert.equal(server1.phase, 'idle');
  s2.hangUp();
  await settle();
  assert.equal(b.session.phase, 'closed');
  assert.deepEqual(closed.map((x) => [x.client, x.reason]), [[b.session, 'server connection lost: server closed the connection']]);
  const last = messages(b.socket.take()).at(-1)!;
  assert.deepEqual(errorOf(last.body), { severity: 'FATAL', code: '08006', message: 'server closed the connection unexpectedly' });

  // server1 was idle before the hang-up: checked first even though server_check_delay is long.
  const c = addClient(pool);
  s1.take();
  c.socket.receive(fe.query('SELECT 2'));
  assert.equal(server1.phase, 'internal');
  assert.equal(server1.internalPurpose, 'check');
});

test('a login failure that will not pass by itself is an ERROR for the waiting clients, who keep their sessions', async () => {
  const { pool, upstreams, closed } = makePool({ poolSize: 1 }, { autoAccept: false });
  const a = addClient(pool);
  a.socket.receive(fe.query('SELECT 1'));
  assert.equal(a.session.phase, 'waiting');
  upstreams.fail(new UpstreamError('UPSTREAM_AUTH', 'password authentication failed', { sqlstate: '28P01', fields: { severity: 'FATAL', code: '28P01', message: 'password authentication failed for user "app"' } }));
  await settle();
  assert.equal(a.session.phase, 'idle');
  assert.deepEqual(closed, []);
  const out = messages(a.socket.take());
  assert.deepEqual(out.map((m) => m.type), ['E', 'Z']);
  assert.deepEqual(errorOf(out[0]!.body), { severity: 'ERROR', code: '28P01', message: 'password authentication failed for user "app"' });
});

test('Terminate from a client without a server closes it without asking for one', async () => {
  const { pool, closed } = makePool();
  const a = addClient(pool);
  a.socket.receive(fe.terminate());
  assert.equal(a.session.phase, 'closed');
  assert.equal(pool.connecting, 0);
  assert.deepEqual(closed.map((x) => x.reason), ['client sent Terminate']);
  assert.equal(pool.clientCount, 0);
});
