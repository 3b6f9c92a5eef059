import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCommand, splitStatements, tokenize } from './command-parse.js';
import { PgmoatError } from '../util/errors.js';

function sqlstateOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof PgmoatError);
    assert.equal(err.severity, 'ERROR');
    return err.sqlstate;
  }
  assert.fail('expected an error');
}

test('splitStatements keeps quoted semicolons and drops comments and empty statements', () => {
  assert.deepEqual(splitStatements('SHOW POOLS; show clients;;'), ['SHOW POOLS', 'show clients']);
  assert.deepEqual(splitStatements('PAUSE "a;b"; -- trailing comment\nRESUME /* x; */ "a;b"'), ['PAUSE "a;b"', 'RESUME   "a;b"']);
  assert.deepEqual(splitStatements('  ;  -- only a comment'), []);
  assert.deepEqual(splitStatements("PAUSE 'x;y'"), ["PAUSE 'x;y'"]);
});

test('parseCommand reads PgBouncer verbs, case-insensitively, with names as written', () => {
  assert.deepEqual(parseCommand('show pools'), { kind: 'show', topic: 'POOLS' });
  assert.deepEqual(parseCommand('SHOW Identities'), { kind: 'show', topic: 'IDENTITIES' });
  assert.deepEqual(parseCommand('reload'), { kind: 'reload' });
  assert.deepEqual(parseCommand('SHUTDOWN'), { kind: 'shutdown' });
  assert.deepEqual(parseCommand('PAUSE'), { kind: 'pool', verb: 'PAUSE', database: undefined });
  assert.deepEqual(parseCommand('pause AppDb'), { kind: 'pool', verb: 'PAUSE', database: 'AppDb' });
  assert.deepEqual(parseCommand('KILL "my ""odd"" db"'), { kind: 'pool', verb: 'KILL', database: 'my "odd" db' });
  assert.deepEqual(parseCommand('reconnect\tapp'), { kind: 'pool', verb: 'RECONNECT', database: 'app' });
});

test('parseCommand refuses what it does not know with 42601', () => {
  assert.equal(sqlstateOf(() => parseCommand('SELECT 1')), '42601');
  assert.equal(sqlstateOf(() => parseCommand('SHOW')), '42601');
  assert.equal(sqlstateOf(() => parseCommand('SHOW nonsense')), '42601');
  assert.equal(sqlstateOf(() => parseCommand('SHOW POOLS extra')), '42601');
  assert.equal(sqlstateOf(() => parseCommand('RELOAD now')), '42601');
  assert.equal(sqlstateOf(() => parseCommand('PAUSE a b')), '42601');
  assert.equal(sqlstateOf(() => parseCommand('PAUSE "unterminated')), '42601');
  assert.equal(sqlstateOf(() => parseCommand("PAUSE 'app'")), '42601');
  assert.equal(sqlstateOf(() => parseCommand('PAUSE ""')), '42601');
});

test('an unknown command is echoed shortened to one line', () => {
  try {
    parseCommand(`DROP ${'x'.repeat(500)}\nTABLE`);
    assert.fail('expected an error');
  } catch (err) {
    assert.ok(err instanceof PgmoatError);
    assert.ok(err.message.length < 120, err.message);
    assert.ok(!err.message.includes('\n'));
  }
});

test('tokenize splits a bare word at a quote', () => {
  assert.deepEqual(tokenize('KILL a"b"'), [
    { text: 'KILL', quoted: false },
    { text: 'a', quoted: false },
    { text: 'b', quoted: true },
  ]);
});

test('SHOW CERTS and SHOW CRL are SHOW topics', () => {
  assert.deepEqual(parseCommand('show certs'), { kind: 'show', topic: 'CERTS' });
  assert.deepEqual(parseCommand('SHOW crl'), { kind: 'show', topic: 'CRL' });
  assert.equal(sqlstateOf(() => parseCommand('SHOW CERT')), '42601');
});

test('parseCommand reads SET, DISABLE/ENABLE, WAIT_CLOSE, SUSPEND and the new SHOW topics', () => {
  assert.deepEqual(parseCommand('set query_timeout = 10'), { kind: 'set', key: 'query_timeout', value: '10' });
  assert.deepEqual(parseCommand("SET server_reset_query = 'DISCARD ALL'"), { kind: 'set', key: 'server_reset_query', value: 'DISCARD ALL' });
  assert.deepEqual(parseCommand("SET server_check_query TO 'it''s'"), { kind: 'set', key: 'server_check_query', value: "it's" });
  assert.deepEqual(parseCommand("SET server_reset_query = ''"), { kind: 'set', key: 'server_reset_query', value: '' });
  assert.deepEqual(parseCommand('DISABLE appdb'), { kind: 'database', verb: 'DISABLE', database: 'appdb' });
  assert.deepEqual(parseCommand('enable "App Db"'), { kind: 'database', verb: 'ENABLE', database: 'App Db' });
  assert.deepEqual(parseCommand('WAIT_CLOSE'), { kind: 'wait_close', database: undefined });
  assert.deepEqual(parseCommand('wait_close appdb'), { kind: 'wait_close', database: 'appdb' });
  assert.deepEqual(parseCommand('SUSPEND'), { kind: 'suspend' });
  assert.deepEqual(parseCommand('show users'), { kind: 'show', topic: 'USERS' });
  assert.deepEqual(parseCommand('SHOW lists'), { kind: 'show', topic: 'LISTS' });
  assert.deepEqual(parseCommand('SHOW DNS_HOSTS'), { kind: 'show', topic: 'DNS_HOSTS' });
});

test('malformed SET, DISABLE, WAIT_CLOSE and SUSPEND are syntax errors (42601)', () => {
  for (const bad of ['SET', 'SET query_timeout', 'SET query_timeout =', 'SET a = b c', "SET a = 'open", "SET a = 'x' y", 'DISABLE', 'ENABLE a b', 'WAIT_CLOSE a b', 'SUSPEND now']) {
    assert.equal(sqlstateOf(() => parseCommand(bad)), '42601', bad);
  }
});
