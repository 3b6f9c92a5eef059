import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseIni } from './ini.js';
import { loadIni } from './ini-files.js';
import { isPgmoatError } from '../util/errors.js';

test('sections, settings, comments only at the start of a line, %include', () => {
  const items = parseIni(
    [
      ';; comment',
      '# other comment',
      '[databases] ; trailing comment',
      'app = host=db port=5432',
      '"my ""odd"" db" = host=db2',
      '  [pgbouncer]  ',
      'server_reset_query = DISCARD ALL ; not a comment',
      'server_check_query =',
      'key.with-dots_and*star=1',
      '%include extra.ini',
      '',
    ].join('\r\n'),
    'p.ini',
  );
  assert.deepEqual(items, [
    { kind: 'section', name: 'databases', line: 3 },
    { kind: 'setting', key: 'app', value: 'host=db port=5432', line: 4 },
    { kind: 'setting', key: 'my "odd" db', value: 'host=db2', line: 5 },
    { kind: 'section', name: 'pgbouncer', line: 6 },
    { kind: 'setting', key: 'server_reset_query', value: 'DISCARD ALL ; not a comment', line: 7 },
    { kind: 'setting', key: 'server_check_query', value: '', line: 8 },
    { kind: 'setting', key: 'key.with-dots_and*star', value: '1', line: 9 },
    { kind: 'include', path: 'extra.ini', line: 10 },
  ]);
});

test('syntax errors name the file and line, never the line itself', () => {
  const cases: [string, RegExp][] = [
    ['[databases\n', /^p\.ini:1: section header without "]"$/],
    ['[a] junk\n', /^p\.ini:1: unexpected text after the section header$/],
    ['\n\nfoo password=hunter2\n', /^p\.ini:3: expected "name = value"$/],
    ['"unterminated = x\n', /^p\.ini:1: unterminated quoted name$/],
    ['%includex a\n', /^p\.ini:1: unknown directive/],
    ['%include\n', /^p\.ini:1: %include without a file name$/],
    ['= value\n', /^p\.ini:1: expected "name = value"$/],
  ];
  for (const [text, re] of cases) {
    assert.throws(() => parseIni(text, 'p.ini'), (err: unknown) => {
      assert.ok(isPgmoatError(err));
      assert.equal(err.code, 'PGBOUNCER_INI_INVALID');
      assert.match(err.message, re);
      assert.ok(!err.message.includes('hunter2'));
      return true;
    });
  }
});

test('any text either parses or fails with PGBOUNCER_INI_INVALID', () => {
  fc.assert(
    fc.property(fc.string({ unit: fc.constantFrom('[', ']', '=', '"', '%', ';', '#', ' ', '\n', 'a', '*', '\t') }), (text) => {
      try {
        parseIni(text, 'f');
      } catch (err) {
        assert.ok(isPgmoatError(err) && err.code === 'PGBOUNCER_INI_INVALID', String(err));
      }
    }),
    { numRuns: 2000 },
  );
});

function files(map: Record<string, string>) {
  return (abs: string): string => {
    const text = map[abs];
    if (text === undefined) throw Object.assign(new Error('nope'), { code: 'ENOENT' });
    return text;
  };
}

test('%include is read relative to the including file; the section carries in and out', () => {
  const read = files({
    '/etc/pgb/main.ini': '[databases]\na = host=x\n%include conf.d/more.ini\nc = host=z\n',
    '/etc/pgb/conf.d/more.ini': 'b = host=y\n[pgbouncer]\n%include /abs/tail.ini\n',
    '/abs/tail.ini': 'pool_mode = transaction\n',
  });
  const ini = loadIni('/etc/pgb/main.ini', read);
  assert.deepEqual(
    ini.settings.map((s) => [s.section, s.key, s.origin.file, s.origin.line]),
    [
      ['databases', 'a', '/etc/pgb/main.ini', 2],
      ['databases', 'b', '/etc/pgb/conf.d/more.ini', 1],
      ['pgbouncer', 'pool_mode', '/abs/tail.ini', 1],
      ['pgbouncer', 'c', '/etc/pgb/main.ini', 4],
    ],
  );
});

test('include cycles, missing includes and excessive nesting are refused with the including line', () => {
  assert.throws(() => loadIni('/a.ini', files({ '/a.ini': '%include b.ini\n', '/b.ini': '\n%include a.ini\n' })), { message: /^\/b\.ini:2: %include \/a\.ini includes itself/ });
  assert.throws(() => loadIni('/a.ini', files({ '/a.ini': '[x]\n%include gone.ini\n' })), (err: unknown) => {
    assert.ok(isPgmoatError(err));
    assert.equal(err.code, 'PGBOUNCER_INI_UNREADABLE');
    assert.equal(err.message, '/a.ini:2: %include cannot read /gone.ini: ENOENT');
    return true;
  });
  const deep: Record<string, string> = {};
  for (let i = 0; i < 20; i++) deep[`/f${i}.ini`] = `%include f${i + 1}.ini\n`;
  deep['/f20.ini'] = '';
  assert.throws(() => loadIni('/f0.ini', files(deep)), { message: /^\/f10\.ini:1: %include nested more than 10 deep$/ });
  assert.throws(() => loadIni('/none.ini', files({})), { message: 'cannot read /none.ini: ENOENT' });
});
