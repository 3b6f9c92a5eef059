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
