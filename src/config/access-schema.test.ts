import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { makeFixture, MINIMAL } from './fixture.test-helper.js';

const fx = makeFixture();
after(() => fx.cleanup());
fx.file('userlist.txt', '"app" "secret"\n', 0o600);
fx.file('open-userlist.txt', '"app" "secret"\n', 0o644);
fx.file('pg_hba.conf', 'hostssl all all 0.0.0.0/0 cert\n', 0o644);

const withTop = (extra: string): string => `${MINIMAL}\n${extra}\n`;

function assertProblem(yaml: string, line: string): void {
  const problems = fx.problems(yaml);
  assert.ok(problems.includes(line), `expected the line\n  ${line}\namong\n  ${problems.join('\n  ')}`);
}

describe('access keys', () => {
  it('accepts rules with lists or single strings, maps and limits', () => {
    const { config } = fx.parse(
      withTop(`
auth_file: userlist.txt
rules:
  - { type: tls, databases: app, roles: [app, "/_ro$/"], address: [10.0.0.0/8, "fd00::/8", 127.0.0.1], cn: "api-*", environment: production, method: cert+scram-sha-256, map: apps }
  - { method: reject }
ident_maps:
  apps:
    - { cn: "/^(.*)-ci$/", role: '\\1' }
limits: { handshakes_per_second: 100, connections_per_identity: 5 }
`),
    );
    assert.deepEqual(config.rules?.[0]?.databases, ['app']);
    assert.deepEqual(config.rules?.[0]?.environment, ['production']);
    assert.equal(config.rules?.[1]?.type, 'any');
    assert.equal(config.limits.handshakes_per_second, 100);
    assert.equal(config.limits.connections_per_address, 0);
  });
  it('names the key path of each problem', () => {
    assertProblem(withTop('rules: [{ method: cetr }]'), 'pgmoat.yaml: rules[0].method: expected one of cert, scram-sha-256, cert+scram-sha-256, md5, password, trust, reject, got "cetr" (did you mean "cert"?)');
    assertProblem(withTop('rules: [{ method: trust, address: 10.0.0.0/33 }]'), 'pgmoat.yaml: rules[0].address[0]: invalid prefix length in "10.0.0.0/33" (0 to 32 for IPv4) (expected an address or a CIDR such as 10.0.0.0/8 or fd00::/8)');
    assertProblem(withTop('rules: [{ method: trust, cn: "/(/" }]'), 'pgmoat.yaml: rules[0].cn[0]: invalid regular expression "/(/": Invalid regular expression: /(/: Unterminated group');
    assertProblem(withTop('rules: [{ method: trust, rolez: [a] }]'), 'pgmoat.yaml: rules[0].rolez: unknown key (did you mean "roles"?)');
    assertProblem(withTop('rules: [{ method: cert, map: nope }]'), 'pgmoat.yaml: rules[0].map: no identity map "nope" in ident_maps');
    assertProblem(withTop('rules: [{ method: scram-sha-256 }]'), 'pgmoat.yaml: rules[0].method: method scram-sha-256 needs client secrets: set auth_file (a PgBouncer userlist.txt) or auth_user (auth_query)');
    assertProblem(withTop('rules: [{ method: trust }]\nhba_file: pg_hba.conf'), 'pgmoat.yaml: hba_file: rules and hba_file are mutually exclusive: keep one');
    assertProblem(withTop('ident_maps: { m: [{ cn: app, role: "\\\\1" }] }'), 'pgmoat.yaml: ident_maps.m[0].role: "\\1" needs a /regex/ in cn');
    assertProblem(withTop('limits: { handshakes_per_second: -1 }'), 'pgmoat.yaml: limits.handshakes_per_second: expected an integer of at least 0, got -1');
    assertProblem(withTop('auth_user: pgmoat_auth\nauth_query: SELECT 1'), 'pgmoat.yaml: auth_query: must use $1 for the role name');
  });
  it('cert rules need a mode that asks for certificates', () => {
    const yaml = `
tls: { mode: require, cert: server.crt, key: server.key }
databases: { app: { host: 127.0.0.1 } }
rules: [{ method: cert }, { cn: app, method: trust }]
`;
    assertProblem(yaml, 'pgmoat.yaml: rules[0].method: method cert needs a client certificate, which tls.mode require does not ask for (use verify-ca or verify-full)');
    assertProblem(yaml, 'pgmoat.yaml: rules[1].cn: matches on the client certificate, which tls.mode require does not ask for (use verify-ca or verify-full)');
  });
  it('auth_file is private', () => {
    const problems = fx.problems(withTop('auth_file: open-userlist.txt'));
    assert.ok(problems.some((p) => p.startsWith('pgmoat.yaml: auth_file: ') && p.includes('readable by group or others')), problems.join('\n'));
  });
  it('tls.expiry_warning is a duration', () => {
    const { config } = fx.parse(`
tls: { cert: server.crt, key: server.key, ca: ca.crt, end_sessions_on_expiry: true, expiry_warning: 5m }
databases: { app: { host: 127.0.0.1 } }
`);
    assert.equal(config.tls.expiry_warning, 300_000);
    assert.equal(config.tls.end_sessions_on_expiry, true);
  });
  it('SAN rules and uri/dns identity map entries', () => {
    const { config } = fx.parse(
      withTop(`
rules:
  - { san: "uri:spiffe://prod.example/ns/prod/*", san_environment: production, method: cert, map: w }
  - { san: ["dns:*.svc", "uri:/^spiffe:/"], method: cert }
ident_maps:
  w:
    - { uri: '/^spiffe://prod\\.example/ns/prod/sa/(.*)$/', role: '\\1' }
    - { dns: api.svc, role: api }
`),
    );
    assert.deepEqual(config.rules?.[0]?.san, ['uri:spiffe://prod.example/ns/prod/*']);
    assert.equal(config.rules?.[0]?.san_environment, 'production');
    assert.equal(config.ident_maps['w']?.[1]?.dns, 'api.svc');
    assertProblem(withTop('rules: [{ san: "spiffe://x", method: cert }]'), 'pgmoat.yaml: rules[0].san[0]: invalid SAN pattern "spiffe://x": write uri:<pattern> or dns:<pattern>');
    assertProblem(withTop('rules: [{ san_environment: production, method: cert }]'), 'pgmoat.yaml: rules[0].san_environment: applies only to certificates this rule matched by their SANs: add san:');
    assertProblem(withTop('ident_maps: { w: [{ cn: a, uri: "spiffe://x", role: a }] }'), 'pgmoat.yaml: ident_maps.w[0].cn: name exactly one of cn, uri and dns');
    assertProblem(withTop("ident_maps: { w: [{ uri: 'spiffe://x', role: '\\1' }] }"), 'pgmoat.yaml: ident_maps.w[0].role: "\\1" needs a /regex/ in uri');
  });
});
