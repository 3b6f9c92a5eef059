import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseHbaFile, type HbaRule } from './hba-file.js';
import { findHbaRule, hbaRuleMatches, type HbaConnection } from './hba-match.js';
import { formatCidr } from './cidr.js';
import { isPgmoatError } from '../util/errors.js';

const HBA = String.raw`
# TYPE  DATABASE        USER            ADDRESS                 METHOD
local   all             postgres                                trust
hostssl app,"My DB"     app_rw,+readers 10.0.0.0/8              scram-sha-256
hostssl all             all             ::1/128                 cert clientcert=verify-full map=certmap
host    sameuser        all             192.168.12.10 255.255.255.0  md5   # trailing comment
hostnossl "all"         "sameuser"      0.0.0.0/0               reject
host    replication     repl            all                     password
host    samerole,/^tenant_\d+$ "+literal" fe80::/10             scram-sha-256
hostssl all             /^svc-            all \
                                                                cert
host    all             all             all                     reject
`;

test('parses a pg_hba.conf with every supported form', () => {
  const rules = parseHbaFile(HBA);
  assert.equal(rules.length, 9);
  const [local, app, cert, same, nossl, repl, regex, cont, last] = rules as [HbaRule, HbaRule, HbaRule, HbaRule, HbaRule, HbaRule, HbaRule, HbaRule, HbaRule];

  assert.deepEqual(local, { line: 3, connType: 'local', databases: [{ kind: 'all' }], users: [{ kind: 'name', name: 'postgres' }], method: 'trust', options: {} });

  assert.equal(app.line, 4);
  assert.deepEqual(app.databases, [{ kind: 'name', name: 'app' }, { kind: 'name', name: 'My DB' }]);
  assert.deepEqual(app.users, [{ kind: 'name', name: 'app_rw' }, { kind: 'group', role: 'readers' }]);
  assert.equal(app.address?.kind === 'cidr' && formatCidr(app.address.cidr), '10.0.0.0/8');
  assert.equal(app.method, 'scram-sha-256');

  assert.deepEqual(cert.options, { clientcert: 'verify-full', map: 'certmap' });
  assert.equal(cert.address?.kind === 'cidr' && cert.address.cidr.family, 6);

  assert.deepEqual(same.databases, [{ kind: 'sameuser' }]);
  assert.equal(same.address?.kind === 'cidr' && formatCidr(same.address.cidr), '192.168.12.0/24');
  assert.equal(same.method, 'md5');

  // Quoted keywords are plain names.
  assert.deepEqual(nossl.databases, [{ kind: 'name', name: 'all' }]);
  assert.deepEqual(nossl.users, [{ kind: 'name', name: 'sameuser' }]);
  assert.equal(nossl.method, 'reject');

  assert.deepEqual(repl.databases, [{ kind: 'replication' }]);
  assert.deepEqual(repl.address, { kind: 'all' });

  assert.equal(regex.databases[0]!.kind, 'samerole');
  assert.equal(regex.databases[1]!.kind === 'regex' && regex.databases[1]!.pattern, '^tenant_\\d+$');
  assert.deepEqual(regex.users, [{ kind: 'name', name: '+literal' }]);

  assert.equal(cont.line, 10);
  assert.equal(cont.method, 'cert');
  assert.equal(last.line, 12);
});

const conn = (over: Partial<HbaConnection>): HbaConnection => ({
  transport: 'tcp',
  ssl: true,
  database: 'app',
  user: 'app_rw',
  address: '10.1.2.3',
  ...over,
});

test('first match wins, with PostgreSQL semantics', () => {
  const rules = parseHbaFile(HBA);
  const isMember = (user: string, role: string): boolean => user === 'alice' && role === 'readers';
  const line = (c: Partial<HbaConnection>): number | undefined => findHbaRule(rules, conn(c), { isMember })?.line;
  assert.equal(line({ transport: 'local', user: 'postgres', address: undefined }), 3);
  assert.equal(line({}), 4);
  assert.equal(line({ address: '::ffff:10.9.9.9' }), 4);
  assert.equal(line({ user: 'alice', database: 'My DB' }), 4);
  assert.equal(line({ user: 'bob' }), 12);
  assert.equal(line({ ssl: false }), 12);
  assert.equal(line({ address: '::1', user: 'x' }), 5);
  assert.equal(line({ ssl: false, address: '192.168.12.99', database: 'carol', user: 'carol' }), 6);
  assert.equal(line({ ssl: false, address: '192.168.12.99', database: 'all', user: 'sameuser' }), 7); // quoted: names
  assert.equal(line({ ssl: false, address: '192.168.12.99', database: 'x', user: 'carol' }), 12);
  // `all` does not match replication connections; `replication` does.
  assert.equal(line({ replication: true, user: 'repl', address: '8.8.8.8' }), 8);
  assert.equal(line({ replication: true, user: 'other', address: '8.8.8.8' }), undefined);
  assert.equal(line({ database: 'tenant_42', user: '+literal', address: 'fe80::2' }), 9);
  assert.equal(line({ user: 'svc-api', address: '8.8.8.8' }), 10);
  assert.equal(line({ user: 'svc-api', address: '8.8.8.8', ssl: false }), 12);
});

test('group membership is never guessed', () => {
  const rules = parseHbaFile('host all +banned all reject\nhost all all all scram-sha-256\n');
  assert.throws(
    () => findHbaRule(rules, conn({ user: 'mallory' })),
    (err: unknown) => isPgmoatError(err) && err.code === 'HBA_GROUP_UNRESOLVED' && /line 1/.test(err.message),
  );
  assert.equal(findHbaRule(rules, conn({ user: 'banned' }))?.line, 1); // a role is a member of itself
  assert.equal(findHbaRule(rules, conn({ user: 'mallory' }), { isMember: () => true })?.line, 1);
  assert.equal(findHbaRule(rules, conn({ user: 'mallory' }), { isMember: () => false })?.line, 2);
  assert.equal(hbaRuleMatches(rules[1]!, conn({ transport: 'local', address: undefined })), false);
});

test('errors carry the line number and say what is unsupported', () => {
  const cases: [string, number, RegExp][] = [
    ['host all all 10.0.0.0/8 trust\nhost all @admins 10.0.0.0/8 md5', 2, /"@file" inclusion .* not supported/],
    ['host @dbs all all md5', 1, /"@file"/],
    ['\nhost all all samehost md5', 2, /samehost.*not supported/],
    ['host all all samenet md5', 1, /samenet.*not supported/],
    ['host all all db.example.com md5', 1, /host names are not supported/],
    ['host all all 10.0.0.1 md5', 1, /invalid IP mask|netmask/],
    ['host all all 10.0.0.1', 1, /end-of-line before (netmask|authentication)/],
    ['host all all 10.0.0.0/33 md5', 1, /prefix length/],
    ['host all all 10.0.0.1 255.0.255.0 md5', 1, /not contiguous/],
    ['host all all 10.0.0.0/8,10.1.0.0/16 md5', 1, /multiple values/],
    ['host all all 10.0.0.0/8 ident', 1, /"ident" is not supported by pgmoat/],
    ['host all all 10.0.0.0/8 ldap ldapserver=x', 1, /"ldap" is not supported/],
    ['host all all 10.0.0.0/8 magic', 1, /invalid authentication method/],
    ['hostgssenc all all 10.0.0.0/8 md5', 1, /GSSAPI/],
    ['include other.conf', 1, /include.*not supported/],
    ['hots all all all md5', 1, /invalid connection type/],
    ['host', 1, /before database/],
    ['host all', 1, /before role/],
    ['host all all', 1, /before IP address/],
    ['local all all', 1, /before authentication method/],
    ['host all all all cert', 1, /only supported on hostssl/],
    ['host all all all md5 clientcert=verify-ca', 1, /clientcert can only be configured for "hostssl"/],
    ['hostssl all all all cert clientcert=verify-ca', 1, /only accepts "verify-full"/],
    ['hostssl all all all md5 clientcert=1', 1, /invalid value for clientcert/],
    ['hostssl all all all md5 map=x', 1, /"map" is only valid/],
    ['hostssl all all all cert map', 1, /name=value/],
    ['hostssl all all all cert map=', 1, /name=value/],
    ['hostssl all all all cert frobnicate=1', 1, /unrecognized authentication option/],
    ['hostssl all all all cert map=a map=b', 1, /twice/],
    ['host "all all all md5', 1, /unterminated quoted string/],
    ['host all, all all md5\nhost a,,b all all md5', 2, /empty element/],
    ['host all all,', 1, /empty element/],
    ['host /( all all md5', 1, /invalid regular expression/],
    ['host all + all md5', 1, /"\+" must be followed/],
  ];
  for (const [text, line, pattern] of cases) {
    assert.throws(
      () => parseHbaFile(text, { fileName: 'auth_hba.conf' }),
      (err: unknown) => {
        assert.ok(isPgmoatError(err), String(err));
        assert.equal(err.code, 'HBA_INVALID');
        assert.match(err.message, new RegExp(`^auth_hba\\.conf line ${line}: `), text);
        assert.match(err.message, pattern, text);
        return true;
      },
    );
  }
});

test('tokenizer details: quotes, "" inside quotes, # inside quotes, continuation, CRLF', () => {
  const rules = parseHbaFile('host "a""b","c#d" "x y" all trust # c\r\nhost all \\\r\n all all \\\n trust\r\n');
  assert.deepEqual(rules[0]!.databases, [{ kind: 'name', name: 'a"b' }, { kind: 'name', name: 'c#d' }]);
  assert.deepEqual(rules[0]!.users, [{ kind: 'name', name: 'x y' }]);
  assert.equal(rules[1]!.line, 2);
  assert.equal(rules[1]!.method, 'trust');
  assert.deepEqual(parseHbaFile('# only comments\n\n   \n#host all all all trust\n'), []);
  // Blanks after a comma continue the list, as in PostgreSQL.
  assert.deepEqual(parseHbaFile('host a, b all all trust')[0]!.databases, [{ kind: 'name', name: 'a' }, { kind: 'name', name: 'b' }]);
});
