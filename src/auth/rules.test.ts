import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compilePattern, compileRules, compileSanPattern, findRule, rulesFromHba, type AccessFacts } from './rules.js';
import { parseHbaFile } from './hba-file.js';
import { PgmoatError } from '../util/errors.js';

const base: AccessFacts = { tls: true, database: 'app', role: 'app', address: '10.1.2.3', identity: { cn: 'app', environment: 'production' } };
const facts = (over: Partial<AccessFacts>): AccessFacts => ({ ...base, ...over });

describe('compilePattern', () => {
  it('exact names match only themselves', () => {
    const m = compilePattern('app', { glob: true });
    assert.equal(m.matches('app', base), true);
    assert.equal(m.matches('app2', base), false);
    assert.equal(m.matches('App', base), false);
  });
  it('globs are anchored, * and ? only, other characters literal', () => {
    const m = compilePattern('api-*.v?', { glob: true });
    assert.equal(m.matches('api-billing.v1', base), true);
    assert.equal(m.matches('xapi-billing.v1', base), false);
    assert.equal(m.matches('api-billingXv1', base), false, 'a dot is literal');
    assert.equal(compilePattern('a*', { glob: false }).matches('abc', base), false, 'without glob * is literal');
  });
  it('regexes are unanchored, as pg_hba.conf', () => {
    assert.equal(compilePattern('/ci$/', { glob: true }).matches('api-ci', base), true);
    assert.equal(compilePattern('/^(api|web)$/', { glob: true }).matches('api2', base), false);
  });
  it('a bad regex is a RULE_INVALID error naming it', () => {
    assert.throws(() => compilePattern('/(/', { glob: true }), (e: unknown) => e instanceof PgmoatError && e.code === 'RULE_INVALID' && e.message.includes('"/(/"'));
  });
  it('a glob never throws and never matches a name with extra characters (property)', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1, maxLength: 20 }).filter((s) => !s.startsWith('/')), fc.string({ maxLength: 5 }), (name, extra) => {
        const m = compilePattern(name, { glob: true });
        if (!/[*?]/.test(name)) {
          assert.equal(m.matches(name, base), true);
          if (extra !== '') assert.equal(m.matches(name + extra, base), false);
        }
      }),
    );
  });
});

describe('yaml rules: first match wins', () => {
  const rules = compileRules([
    { type: 'plain', method: 'reject' },
    { databases: ['reporting'], roles: ['/_ro$/'], method: 'scram-sha-256' },
    { address: ['192.168.0.0/16', 'fd00::/8'], cn: ['ops-*'], method: 'cert+scram-sha-256' },
    { environment: ['staging'], method: 'trust' },
    { cn: ['/^app$/'], databases: ['all'], method: 'cert' },
  ]);
  it('type', () => {
    assert.equal(findRule(rules, facts({ tls: false }))?.label, 'rules[0]');
  });
  it('databases and roles', () => {
    assert.equal(findRule(rules, facts({ database: 'reporting', role: 'bi_ro' }))?.label, 'rules[1]');
    assert.equal(findRule(rules, facts({ database: 'reporting', role: 'bi' }))?.label, 'rules[4]', 'falls through to the cn rule');
  });
  it('address (IPv4, IPv6, IPv4-mapped) and cn glob', () => {
    const ops = { cn: 'ops-alice', environment: 'production' };
    assert.equal(findRule(rules, facts({ address: '192.168.4.5', identity: ops }))?.label, 'rules[2]');
    assert.equal(findRule(rules, facts({ address: '::ffff:192.168.4.5', identity: ops }))?.label, 'rules[2]');
    assert.equal(findRule(rules, facts({ address: 'fd00::1', identity: ops }))?.label, 'rules[2]');
    assert.equal(findRule(rules, facts({ address: '10.0.0.1', identity: ops })), undefined);
  });
  it('environment needs a certificate that names it', () => {
    assert.equal(findRule(rules, facts({ identity: { cn: 'x', environment: 'staging' } }))?.label, 'rules[3]');
    assert.equal(findRule(rules, facts({ identity: { cn: 'x', environment: undefined } })), undefined);
  });
  it('cn rules never match a client without a certificate', () => {
    assert.equal(findRule(rules, facts({ identity: undefined })), undefined);
  });
  it('no rule matches: undefined', () => {
    assert.equal(findRule(rules, facts({ identity: { cn: 'other', environment: 'production' } })), undefined);
  });
  it('cert methods check the identity, password methods do not by themselves', () => {
    assert.equal(rules[4]!.identityCheck, true);
    assert.equal(rules[2]!.identityCheck, true);
    assert.equal(rules[1]!.identityCheck, false);
  });
});

describe('pg_hba.conf rules', () => {
  const hba = parseHbaFile(
    [
      'local   all all                 trust',
      'hostnossl all all 0.0.0.0/0     reject',
      'hostssl app  app  127.0.0.1/32  cert map=apps',
      'hostssl sameuser all ::1/128    scram-sha-256 clientcert=verify-full',
      'host    /^rep  all all          md5',
      'hostssl all all 0.0.0.0/0       password clientcert=verify-ca',
    ].join('\n'),
  );
  const rules = rulesFromHba(hba, 'pg_hba.conf');
  it('drops local lines and maps the connection types', () => {
    assert.equal(rules.length, 5);
    assert.deepEqual(
      rules.map((r) => r.type),
      ['plain', 'tls', 'tls', 'any', 'tls'],
    );
  });
  it('matches as PostgreSQL does', () => {
    assert.equal(findRule(rules, facts({ tls: false, address: '10.0.0.1' }))?.label, 'pg_hba.conf line 2');
    const cert = findRule(rules, facts({ address: '127.0.0.1' }))!;
    assert.equal(cert.label, 'pg_hba.conf line 3');
    assert.equal(cert.method, 'cert');
    assert.equal(cert.map, 'apps');
    const same = findRule(rules, facts({ address: '::1', database: 'bob', role: 'bob' }))!;
    assert.equal(same.label, 'pg_hba.conf line 4');
    assert.equal(same.identityCheck, true, 'clientcert=verify-full checks the CN');
    assert.equal(findRule(rules, facts({ address: '10.0.0.1', database: 'reports' }))?.method, 'md5');
    const ca = findRule(rules, facts({ address: '10.0.0.1', database: 'x' }))!;
    assert.equal(ca.method, 'password');
    assert.equal(ca.certificateRequired, true);
    assert.equal(ca.identityCheck, false);
  });
  it('refuses what pgmoat cannot honour, naming the line', () => {
    assert.throws(() => rulesFromHba(parseHbaFile('host all +admins 0.0.0.0/0 md5'), 'f'), /f line 1: "\+admins" needs role membership/);
    assert.throws(() => rulesFromHba(parseHbaFile('host samerole all 0.0.0.0/0 md5'), 'f'), /f line 1: "samerole"/);
    assert.throws(() => rulesFromHba(parseHbaFile('hostssl all all 0.0.0.0/0 cert clientname=DN'), 'f'), /clientname=DN/);
  });
});

describe('san: rules', () => {
  const svid = { cn: undefined, environment: undefined, uris: ['spiffe://prod.example/ns/prod/sa/api'], dnsNames: [] };
  const cm = { cn: 'reports', environment: undefined, uris: [], dnsNames: ['reports.prod.svc.cluster.local'] };
  const rules = compileRules([
    { san: ['uri:spiffe://prod.example/ns/prod/*'], method: 'cert', map: 'm' },
    { san: ['dns:*.PROD.svc.cluster.local'], method: 'cert' },
    { san: ['uri:/^spiffe:\\/\\/staging\\.example\\//'], method: 'reject' },
  ]);
  it('uri: glob and regex, dns: glob without case', () => {
    assert.equal(findRule(rules, facts({ identity: svid }))?.label, 'rules[0]');
    assert.equal(findRule(rules, facts({ identity: cm }))?.label, 'rules[1]');
    assert.equal(findRule(rules, facts({ identity: { ...svid, uris: ['spiffe://staging.example/ns/prod/sa/api'] } }))?.label, 'rules[2]');
    assert.equal(findRule(rules, facts({ identity: { ...svid, uris: ['spiffe://prod.example/ns/dev/sa/api'] } })), undefined);
  });
  it('a san rule needs SANs of its kind: a CN, or no certificate, does not match', () => {
    assert.equal(findRule(rules, facts({ identity: { cn: 'spiffe://prod.example/ns/prod/sa/api', environment: undefined } })), undefined);
    assert.equal(findRule(rules, facts({ identity: { ...cm, uris: [], dnsNames: [] } })), undefined);
    assert.equal(findRule(rules, facts({ identity: undefined })), undefined);
  });
  it('a pattern without uri: or dns: is a RULE_INVALID error naming the rule', () => {
    assert.throws(() => compileRules([{ san: ['spiffe://x'], method: 'cert' }]), (e: unknown) => e instanceof PgmoatError && e.code === 'RULE_INVALID' && /rules\[0\]\.san: .*uri:<pattern>/.test(e.message));
    assert.throws(() => compileSanPattern('uri:/(/'), /invalid regular expression/);
  });
});
