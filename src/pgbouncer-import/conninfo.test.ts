import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseConnString } from './conninfo.js';
import { isPgmoatError } from '../util/errors.js';

const pairs = (s: string): [string, string][] => parseConnString(s).map((p) => [p.key, p.value]);

test('plain, quoted and escaped values', () => {
  assert.deepEqual(pairs(''), []);
  assert.deepEqual(pairs('   '), []);
  assert.deepEqual(pairs('host=db port=5432  dbname=app'), [
    ['host', 'db'],
    ['port', '5432'],
    ['dbname', 'app'],
  ]);
  assert.deepEqual(pairs("connect_query='SELECT 1' user = baz"), [
    ['connect_query', 'SELECT 1'],
    ['user', 'baz'],
  ]);
  // PgBouncer's '' and libpq's \' inside quotes; \ outside quotes escapes too.
  assert.deepEqual(pairs("password='it''s \\'q\\' \\\\ x'"), [['password', "it's 'q' \\ x"]]);
  assert.deepEqual(pairs('password=a\\ b\\\\c'), [['password', 'a b\\c']]);
  assert.deepEqual(pairs("application_name=''"), [['application_name', '']]);
  assert.deepEqual(pairs('host=a,b,c'), [['host', 'a,b,c']]);
});

test('errors name the key, never the value', () => {
  const cases: [string, string][] = [
    ["password='secret", 'unterminated quoted value for "password"'],
    ["password='secret\\", 'unterminated quoted value for "password"'],
    ['password', 'expected "=" after "password"'],
    ['=secret', 'a parameter name is missing before "="'],
    ['password=', 'no value for "password"'],
    ["password='secret'x", 'unexpected text after the quoted value of "password"'],
  ];
  for (const [input, message] of cases) {
    assert.throws(() => parseConnString(input), (err: unknown) => {
      assert.ok(isPgmoatError(err));
      assert.equal(err.code, 'CONNSTRING_INVALID');
      assert.equal(err.message, message);
      return true;
    });
  }
});

test('quoting any value and parsing it back gives the value', () => {
  const quote = (v: string): string => `'${v.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
  fc.assert(
    fc.property(fc.array(fc.tuple(fc.stringMatching(/^[a-z_]{1,12}$/), fc.string()), { maxLength: 6 }), (list) => {
      const text = list.map(([k, v]) => `${k}=${quote(v)}`).join(' ');
      assert.deepEqual(pairs(text), list);
    }),
  );
});

test('hostile input only ever yields CONNSTRING_INVALID', () => {
  fc.assert(
    fc.property(fc.string({ unit: fc.constantFrom("'", '\\', '=', ' ', 'a', '\t', '\n') }), (s) => {
      try {
        parseConnString(s);
      } catch (err) {
        assert.ok(isPgmoatError(err) && err.code === 'CONNSTRING_INVALID', String(err));
      }
    }),
    { numRuns: 3000 },
  );
});
