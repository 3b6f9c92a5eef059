// Statement tracking in transaction mode, over fake sockets and a pool that links clients to the
// server the test chooses: named statements followed across server connections, answers to
// inserted requests hidden, answers to skipped ones made up in their place, Sync ending a batch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { be, cstringAt, fe, messages, types, type Message } from './wire.test-helper.js';
import { FakePool, testSettings } from './fake-pool.test-helper.js';

function tracked(maxPreparedStatements = 10): FakePool {
  return new FakePool(testSettings({ maxPreparedStatements }));
}

/** [type, first string] of each message: the statement name of a Parse, the SQL of a Query. */
function named(m: Message): [string, string] {
  switch (m.type) {
    case 'B': {
      const portalEnd = m.body.indexOf(0);
      return ['B', cstringAt(m.body, portalEnd + 1)];
    }
    case 'C':
    case 'D':
      return [m.type, `${String.fromCharCode(m.body[0]!)}:${cstringAt(m.body, 1)}`];
    case 'P':
    case 'Q':
      return [m.type, cstringAt(m.body)];
    default:
      return [m.type, ''];
  }
}

function sent(buf: Buffer): [string, string][] {
  return messages(buf).map(named);
}

/** A client linked to a fresh server inside a transaction (BEGIN answered). */
function linkedInTransaction(pool: FakePool) {
  const c = pool.addClient();
  const s = pool.openServer();
  c.socket.receive(fe.query('BEGIN'));
  pool.link(c.client, s.server);
  s.socket.receive(Buffer.concat([be.commandComplete('BEGIN'), be.ready('T')]));
  s.socket.take();
  c.socket.take();
  return { c, s };
}

test('a named Parse goes to the server under a shared server-side name, and Bind is rewritten to it', () => {
  const pool = tracked();
  const { c, s } = linkedInTransaction(pool);
  c.socket.receive(Buffer.concat([fe.parse('stmt_a', 'SELECT $1::int'), fe.bind('', 'stmt_a'), fe.execute(), fe.sync()]));
  assert.deepEqual(sent(s.socket.take()), [
    ['P', 'PGMOAT_1'],
    ['B', 'PGMOAT_1'],
    ['E', ''],
    ['S', ''],
  ]);
  assert.equal(s.server.outstanding, 4);
  assert.equal(s.server.extendedOpen, false, 'the Sync closed the batch');
  s.socket.receive(Buffer.concat([be.parseComplete(), be.bindComplete(), be.commandComplete('SELECT 1'), be.ready('T')]));
  assert.equal(types(c.socket.take()), '12CZ', 'the client\'s own Parse is answered as sent');
  assert.equal(s.server.outstanding, 0);
  assert.ok(s.server.statements.has('PGMOAT_1'));
});

test('the same statement on another server: a hidden Parse is inserted before the Bind and its ParseComplete never reaches the client', () => {
  const pool = tracked();
  const first = linkedInTransaction(pool);
  const { c } = first;
  c.socket.receive(Buffer.concat([fe.parse('stmt_a', 'SELECT 1'), fe.bind('', 'stmt_a'), fe.execute(), fe.sync(), fe.query('COMMIT')]));
  first.s.socket.receive(Buffer.concat([be.parseComplete(), be.bindComplete(), be.commandComplete('SELECT 1'), be.ready('T'), be.commandComplete('COMMIT'), be.ready('I')]));
  assert.equal(pool.released, 1, 'the transaction ended: the server went back');
  assert.equal(c.client.server, null);
  c.socket.take();

  // The next transaction goes to a server that never saw the statement.
  const s2 = pool.openServer();
  c.socket.receive(Buffer.concat([fe.bind('', 'stmt_a'), fe.execute(), fe.sync()]));
  assert.deepEqual(pool.requests, [c.client]);
  pool.link(c.client, s2.server);
  assert.deepEqual(sent(s2.socket.take()), [
    ['P', 'PGMOAT_1'],
    ['B', 'PGMOAT_1'],
    ['E', ''],
    ['S', ''],
  ]);
  s2.socket.receive(Buffer.concat([be.parseComplete(), be.bindComplete(), be.commandComplete('SELECT 1'), be.ready('I')]));
  assert.equal(types(c.socket.take()), '2CZ');
  assert.ok(s2.server.statements.has('PGMOAT_1'));
  assert.equal(pool.released, 2);
});

test('a Parse of a statement the server has already is skipped and answered by pgmoat, in its place after what is owed before it', () => {
  const pool = tracked();
  const { c, s } = linkedInTransaction(pool);
  c.socket.receive(Buffer.concat([fe.parse('a', 'SELECT 1'), fe.sync()]));
  s.socket.receive(Buffer.concat([be.parseComplete(), be.ready('T')]));
  s.socket.take();
  c.socket.take();

  // Another client name for the same text, after a request still owed: its ParseComplete must
  // come after that request's answers, and after the ReadyForQuery that ends them.
  c.socket.receive(Buffer.concat([fe.bind('', 'a'), fe.execute(), fe.sync(), fe.parse('b', 'SELECT 1'), fe.bind('', 'b'), fe.execute(), fe.sync()]));
  assert.deepEqual(sent(s.socket.take()), [
    ['B', 'PGMOAT_1'],
    ['E', ''],
    ['S', ''],
    ['B', 'PGMOAT_1'],
    ['E', ''],
    ['S', ''],
  ]);
  assert.equal(types(c.socket.take()), '', 'nothing made up before the answers owed before it');
  s.socket.receive(Buffer.concat([be.bindComplete(), be.commandComplete('SELECT 1'), be.ready('T')]));
  assert.equal(types(c.socket.take()), '2CZ1');
  s.socket.receive(Buffer.concat([be.bindComplete(), be.commandComplete('SELECT 1'), be.ready('T')]));
  assert.equal(types(c.socket.take()), '2CZ');

  // With nothing owed, a skipped Parse is answered at once.
  c.socket.receive(fe.parse('c', 'SELECT 1'));
  assert.equal(types(c.socket.take()), '1');
  assert.equal(s.socket.written.length, 0);
  assert.equal(s.server.outstanding, 0);
});

test('a made-up answer after a hidden one: Bind on a new server, then Close of the statement', () => {
  const pool = tracked();
  const c = pool.addClient();
  // Between transactions, a Parse alone is answered without a server.
  c.socket.receive(Buffer.concat([fe.parse('a', 'SELECT 1'), fe.sync()]));
  assert.equal(types(c.socket.take()), '1Z');
  assert.deepEqual(pool.requests, [], 'no server asked for');

  const s = pool.openServer();
  c.socket.receive(Buffer.concat([fe.bind('', 'a'), fe.execute(), fe.closeStatement('a'), fe.sync()]));
  pool.link(c.client, s.server);
  assert.deepEqual(sent(s.socket.take()), [
    ['P', 'PGMOAT_1'],
    ['B', 'PGMOAT_1'],
    ['E', ''],
    ['S', ''],
  ]);
  s.socket.receive(Buffer.concat([be.parseComplete(), be.bindComplete(), be.commandComplete('SELECT 1'), be.ready('I')]));
  assert.equal(types(c.socket.take()), '2C3Z', 'ParseComplete hidden; CloseComplete made up after the Execute it followed');
  assert.ok(s.server.statements.has('PGMOAT_1'), 'the server keeps it for other clients');
});

test('Close of a named statement is answered by pgmoat; the name is forgotten for this client only', () => {
  const pool = tracked();
  const { c, s } = linkedInTransaction(pool);
  c.socket.receive(Buffer.concat([fe.parse('a', 'SELECT 1'), fe.sync()]));
  s.socket.receive(Buffer.concat([be.parseComplete(), be.ready('T')]));
  c.socket.take();
  s.socket.take();
  c.socket.receive(Buffer.concat([fe.closeStatement('a'), fe.sync()]));
  assert.deepEqual(sent(s.socket.take()), [['S', '']], 'the Close stays with pgmoat');
  assert.equal(types(c.socket.take()), '3');
  s.socket.receive(be.ready('T'));
  assert.equal(types(c.socket.take()), 'Z');
  // The name means nothing any more: a Bind to it goes to the server as the client wrote it.
  c.socket.receive(Buffer.concat([fe.bind('', 'a'), fe.sync()]));
  assert.deepEqual(sent(s.socket.take()), [
    ['B', 'a'],
    ['S', ''],
  ]);
});

test('Describe of a named statement is rewritten to its server-side name', () => {
  const pool = tracked();
  const { c, s } = linkedInTransaction(pool);
  c.socket.receive(Buffer.concat([fe.parse('a', 'SELECT 1'), fe.describeStatement('a'), fe.sync()]));
  assert.deepEqual(sent(s.socket.take()), [
    ['P', 'PGMOAT_1'],
    ['D', 'S:PGMOAT_1'],
    ['S', ''],
  ]);
  s.socket.receive(Buffer.concat([be.parseComplete(), be.parameterDescription(), be.noData(), be.ready('T')]));
  assert.equal(types(c.socket.take()), '1tnZ');
  assert.equal(s.server.outstanding, 0);
});

test('an error in a batch: the server skips to the Sync, and a statement whose Parse failed is prepared again next time', () => {
  const pool = tracked();
  const { c, s } = linkedInTransaction(pool);
  c.socket.receive(Buffer.concat([fe.parse('bad', 'SELEC 1'), fe.bind('', 'bad'), fe.execute(), fe.sync()]));
  assert.deepEqual(sent(s.socket.take()).map((x) => x[0]), ['P', 'B', 'E', 'S']);
  assert.ok(s.server.statements.has('PGMOAT_1'), 'counted as prepared while its Parse is in flight');
  s.socket.receive(Buffer.concat([be.error('42601', 'syntax error'), be.ready('E')]));
  assert.equal(types(c.socket.take()), 'EZ');
  assert.equal(s.server.outstanding, 0);
  assert.equal(s.server.statements.has('PGMOAT_1'), false, 'forgotten: the server never prepared it');

  c.socket.receive(Buffer.concat([fe.query('ROLLBACK')]));
  s.socket.receive(Buffer.concat([be.commandComplete('ROLLBACK'), be.ready('T')]));
  s.socket.take();
  c.socket.take();
  c.socket.receive(Buffer.concat([fe.bind('', 'bad'), fe.execute(), fe.sync()]));
  assert.deepEqual(sent(s.socket.take()), [
    ['P', 'PGMOAT_1'],
    ['B', 'PGMOAT_1'],
    ['E', ''],
    ['S', ''],
  ]);
});

test('max_prepared_statements: preparing one more on a full server closes the least recently used, hidden from the client', () => {
  const pool = tracked(1);
  const { c, s } = linkedInTransaction(pool);
  c.socket.receive(Buffer.concat([fe.parse('a', 'SELECT 1'), fe.sync()]));
  s.socket.receive(Buffer.concat([be.parseComplete(), be.ready('T')]));
  s.socket.take();
  c.socket.take();
  c.socket.receive(Buffer.concat([fe.parse('b', 'SELECT 2'), fe.sync()]));
  assert.deepEqual(sent(s.socket.take()), [
    ['C', 'S:PGMOAT_1'],
    ['P', 'PGMOAT_2'],
    ['S', ''],
  ]);
  s.socket.receive(Buffer.concat([be.closeComplete(), be.parseComplete(), be.ready('T')]));
  assert.equal(types(c.socket.take()), '1Z');
  assert.equal(s.server.statements.has('PGMOAT_1'), false);
  assert.equal(s.server.statements.has('PGMOAT_2'), true);
});

for (const maxPreparedStatements of [0, 10]) {
  const mode = maxPreparedStatements > 0 ? 'with statement tracking' : 'without statement tracking';

  test(`only a Sync ends an extended-protocol batch: the server stays with its client until then (${mode})`, () => {
    const pool = new FakePool(testSettings({ maxPreparedStatements }));
    const c = pool.addClient();
    const s = pool.openServer();
    c.socket.receive(Buffer.concat([fe.parse('', 'SELECT 1'), fe.bind('', ''), fe.execute(), fe.flush()]));
    pool.link(c.client, s.server);
    assert.equal(s.server.extendedOpen, true);
    s.socket.receive(Buffer.concat([be.parseComplete(), be.bindComplete(), be.commandComplete('SELECT 1')]));
    assert.equal(types(c.socket.take()), '12C');
    assert.equal(s.server.clean, false);
    assert.equal(c.client.server, s.server, 'no Sync yet: still linked');

    c.socket.receive(fe.sync());
    assert.equal(s.server.extendedOpen, false);
    assert.equal(s.server.outstanding, 1);
    s.socket.receive(be.ready('I'));
    assert.equal(types(c.socket.take()), 'Z');
    assert.equal(pool.released, 1);
    assert.equal(c.client.server, null);
  });

  test(`a Query after Execute with no Sync between: its ReadyForQuery does not end the batch (${mode})`, () => {
    const pool = new FakePool(testSettings({ maxPreparedStatements }));
    const c = pool.addClient();
    const s = pool.openServer();
    c.socket.receive(Buffer.concat([fe.parse('', 'SELECT 1'), fe.bind('', ''), fe.execute(), fe.query('SELECT 2')]));
    pool.link(c.client, s.server);
    assert.deepEqual(sent(s.socket.take()).map((x) => x[0]), ['P', 'B', 'E', 'Q']);
    s.socket.receive(Buffer.concat([be.parseComplete(), be.bindComplete(), be.commandComplete('SELECT 1'), be.commandComplete('SELECT 1'), be.ready('I')]));
    assert.equal(types(c.socket.take()), '12CCZ');
    assert.equal(s.server.outstanding, 0, 'the Query was answered');
    assert.equal(s.server.extendedOpen, true, 'but the batch is still open');
    assert.equal(pool.released, 0);
    assert.equal(c.client.server, s.server);

    c.socket.receive(fe.sync());
    s.socket.receive(be.ready('I'));
    assert.equal(pool.released, 1);
  });

  test(`queries and Syncs in a pipeline are counted until each has its ReadyForQuery (${mode})`, () => {
    const pool = new FakePool(testSettings({ maxPreparedStatements }));
    const c = pool.addClient();
    const s = pool.openServer();
    c.socket.receive(Buffer.concat([fe.query('SELECT 1'), fe.query('SELECT 2')]));
    pool.link(c.client, s.server);
    assert.equal(s.server.outstanding, 2);
    assert.ok(s.server.busySince > 0);
    s.socket.receive(Buffer.concat([be.commandComplete('SELECT 1'), be.ready('I')]));
    assert.equal(s.server.outstanding, 1);
    assert.equal(pool.released, 0, 'the second query is still owed');
    s.socket.receive(Buffer.concat([be.commandComplete('SELECT 1'), be.ready('I')]));
    assert.equal(s.server.outstanding, 0);
    assert.equal(s.server.busySince, 0);
    assert.equal(pool.released, 1);
    assert.equal(types(c.socket.take()), 'CZCZ');
  });
}

test('ParameterStatus from the server is relayed and remembered for the settings of the next client', () => {
  const pool = tracked();
  const { c, s } = linkedInTransaction(pool);
  c.socket.receive(fe.query("SET application_name = 'x'"));
  s.socket.receive(Buffer.concat([be.parameterStatus('application_name', 'x'), be.commandComplete('SET'), be.ready('T')]));
  assert.equal(types(c.socket.take()), 'SCZ');
  assert.equal(s.server.params.get('application_name'), 'x');
});
