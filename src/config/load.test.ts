import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { isPgmoatError } from '../util/errors.js';
import { makeFixture, MINIMAL } from './fixture.test-helper.js';
import { loadConfig } from './load.js';

const fx = makeFixture();
after(() => fx.cleanup());

describe('YAML syntax', () => {
  it('reports syntax errors with line and column', () => {
    const problems = fx.problems('listen:\n  host: 127.0.0.1\n port: 6432\ndatabases: { app: { host: h }\n');
    assert.ok(problems.length >= 1);
    for (const p of problems) assert.match(p, /^pgmoat\.yaml:\d+:\d+: YAML syntax error: /);
  });

  it('reports a duplicate key where it is', () => {
    assert.deepEqual(fx.problems(`${MINIMAL}\nmax_client_conn: 5\nmax_client_conn: 6\n`), [
      'pgmoat.yaml:7:1: YAML syntax error: Map keys must be unique',
    ]);
  });

  it('refuses an empty file and a top level that is not a mapping', () => {
    assert.deepEqual(fx.problems(''), ['pgmoat.yaml: the file is empty']);
    assert.deepEqual(fx.problems('# only a comment\n'), ['pgmoat.yaml: the file is empty']);
    assert.deepEqual(fx.problems('- a\n- b\n'), ['pgmoat.yaml: expected a mapping (key: value) at the top level']);
  });

  it('stops alias bombs', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]'];
    for (let i = 0; i < 8; i++) bomb.push(`${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10).fill(`*${String.fromCharCode(97 + i)}`).join(', ')}]`);
    const problems = fx.problems(bomb.join('\n'));
    assert.equal(problems.length, 1);
    assert.match(problems[0]!, /^pgmoat\.yaml: YAML error: /);
  });

  it('refuses __proto__ keys and values YAML tags turn into objects', () => {
    assert.deepEqual(fx.problems(`${MINIMAL}\n__proto__: { polluted: 1 }\n`), ['pgmoat.yaml: __proto__: this key name is not allowed']);
    assert.deepEqual(fx.problems('tls: { mode: disable }\ndatabases: { __proto__: { host: h } }'), [
      'pgmoat.yaml: databases.__proto__: this key name is not allowed',
    ]);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.deepEqual(fx.problems('tls: { mode: disable }\ndatabases: !!binary aGVsbG8='), [
      'pgmoat.yaml: databases: unsupported YAML value (use a plain string, number, list or mapping)',
    ]);
  });

  it('supports merge keys for shared database settings', () => {
    const { config } = fx.parse(`
tls: { mode: disable }
databases:
  app: &upstream { host: db.internal, port: 5433, pool_size: 7 }
  jobs: { <<: *upstream, pool_size: 2 }
`);
    assert.equal(config.databases.jobs?.host, 'db.internal');
    assert.equal(config.databases.jobs?.port, 5433);
    assert.equal(config.databases.jobs?.pool_size, 2);
    assert.equal(config.databases.jobs?.dbname, 'jobs');
  });
});

describe('file paths', () => {
  it('resolves relative paths against the config directory and keeps absolute ones', () => {
    mkdirSync(join(fx.dir, 'certs'), { recursive: true });
    fx.file('certs/gw.crt', 'PEM', 0o644);
    fx.file('certs/gw.key', 'KEY', 0o600);
    const absCa = join(fx.dir, 'ca.crt');
    const { config, dir } = fx.parse(`
tls: { cert: certs/gw.crt, key: ./certs/../certs/gw.key, ca: ${absCa} }
databases: { app: { host: h, password_file: app.password, tls: { mode: verify-full, ca: certs/../upstream-ca.crt } } }
`);
    assert.equal(dir, fx.dir);
    assert.equal(config.tls.cert, join(fx.dir, 'certs/gw.crt'));
    assert.equal(config.tls.key, join(fx.dir, 'certs/gw.key'));
    assert.equal(config.tls.ca, absCa);
    assert.equal(config.databases.app?.password_file, join(fx.dir, 'app.password'));
    assert.equal(config.databases.app?.tls.ca, join(fx.dir, 'upstream-ca.crt'));
  });

  it('requires referenced files to exist and be files', () => {
    mkdirSync(join(fx.dir, 'a-dir'), { recursive: true });
    const problems = fx.problems(`
tls: { cert: missing.crt, key: server.key, ca: a-dir }
databases: { app: { host: h, tls: { cert: client.crt, key: gone.key } } }
`);
    assert.deepEqual(problems, [
      `pgmoat.yaml: tls.cert: file not found: ${join(fx.dir, 'missing.crt')}`,
      `pgmoat.yaml: tls.ca: not a regular file: ${join(fx.dir, 'a-dir')}`,
      `pgmoat.yaml: databases.app.tls.key: file not found: ${join(fx.dir, 'gone.key')}`,
    ]);
  });

  it('refuses private key, passphrase and password files readable by group or others', () => {
    fx.file('open.key', 'KEY', 0o644);
    fx.file('group.key', 'KEY', 0o640);
    fx.file('open.pass', 'pw', 0o604);
    fx.file('open.password', 'pw', 0o644);
    const problems = fx.problems(`
tls: { cert: server.crt, key: open.key, key_passphrase_file: open.pass, ca: ca.crt }
databases:
  app: { host: h, password_file: open.password, tls: { cert: client.crt, key: group.key } }
admin: { http: { port: 9187, tls: { cert: server.crt, key: open.key } } }
`);
    const at = (name: string): string => join(fx.dir, name);
    assert.deepEqual(problems, [
      `pgmoat.yaml: tls.key: private key ${at('open.key')} is readable by group or others (mode 0644); run: chmod 600 ${at('open.key')}`,
      `pgmoat.yaml: tls.key_passphrase_file: passphrase file ${at('open.pass')} is readable by group or others (mode 0604); run: chmod 600 ${at('open.pass')}`,
      `pgmoat.yaml: databases.app.password_file: password file ${at('open.password')} is readable by group or others (mode 0644); run: chmod 600 ${at('open.password')}`,
      `pgmoat.yaml: databases.app.tls.key: private key ${at('group.key')} is readable by group or others (mode 0640); run: chmod 600 ${at('group.key')}`,
      `pgmoat.yaml: admin.http.tls.key: private key ${at('open.key')} is readable by group or others (mode 0644); run: chmod 600 ${at('open.key')}`,
    ]);
  });

  it('accepts a certificate readable by everyone (only private files are restricted)', () => {
    fx.file('public.crt', 'PEM', 0o644);
    assert.doesNotThrow(() => fx.parse('tls: { cert: public.crt, key: server.key, ca: ca.crt }\ndatabases: { app: { host: h } }'));
  });

  it('checks password_env against the given environment', () => {
    const yaml = 'tls: { mode: disable }\ndatabases: { app: { host: h, password_env: PGMOAT_TEST_PW } }';
    assert.deepEqual(fx.problems(yaml, { PGMOAT_TEST_PW: '' }), [
      'pgmoat.yaml: databases.app.password_env: environment variable PGMOAT_TEST_PW is empty',
    ]);
    assert.equal(fx.parse(yaml, { PGMOAT_TEST_PW: 'secret' }).config.databases.app?.password_env, 'PGMOAT_TEST_PW');
  });
});

describe('loadConfig', () => {
  it('reads the file and resolves paths against its directory, whatever the cwd', async () => {
    const sub = join(fx.dir, 'etc');
    mkdirSync(sub, { recursive: true });
    writeFileSync(join(sub, 'pgmoat.yaml'), 'tls: { cert: ../server.crt, key: ../server.key, ca: ../ca.crt }\ndatabases: { app: { host: h } }\n');
    const rel = relative(process.cwd(), join(sub, 'pgmoat.yaml'));
    const loaded = await loadConfig(rel);
    assert.equal(loaded.path, rel);
    assert.equal(loaded.dir, sub);
    assert.equal(loaded.config.tls.cert, join(fx.dir, 'server.crt'));
  });

  it('labels problems with the path it was given', async () => {
    const path = join(fx.dir, 'bad.yaml');
    writeFileSync(path, `${MINIMAL}\nlisten: { port: x }\n`);
    await assert.rejects(loadConfig(path), (err: unknown) => {
      assert.ok(isPgmoatError(err));
      assert.equal(err.code, 'CONFIG_INVALID');
      assert.equal(err.message, `${path}: listen.port: expected an integer from 0 to 65535, got "x"`);
      return true;
    });
  });

  it('says when the file cannot be read', async () => {
    await assert.rejects(loadConfig(join(fx.dir, 'nope.yaml')), (err: unknown) => {
      assert.ok(isPgmoatError(err));
      assert.equal(err.code, 'CONFIG_UNREADABLE');
      assert.match(err.message, /cannot read config file .*nope\.yaml: ENOENT \(no such file\); check the path/);
      return true;
    });
  });

  it('checks password_env against process.env by default', async () => {
    const path = join(fx.dir, 'env.yaml');
    writeFileSync(path, 'tls: { mode: disable }\ndatabases: { app: { host: h, password_env: PGMOAT_CONFIG_TEST_UNSET_VAR } }\n');
    await assert.rejects(loadConfig(path), /PGMOAT_CONFIG_TEST_UNSET_VAR is not set/);
    const loaded = await loadConfig(path, { PGMOAT_CONFIG_TEST_UNSET_VAR: 'x' });
    assert.equal(loaded.config.databases.app?.host, 'h');
  });
});
