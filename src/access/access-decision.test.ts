import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compileRules, defaultRule, type AccessFacts, type RuleConfig } from '../auth/rules.js';
import { identMapsFromConfig } from '../auth/ident-config.js';
import { PgmoatError } from '../util/errors.js';
import { decideAccess } from './access-decision.js';
import type { AccessRuntime } from '../runtime/access-runtime.js';

function runtime(rules: RuleConfig[] | 'default-cert' | 'default-trust'): AccessRuntime {
  return {
    rules: rules === 'default-cert' ? [defaultRule('cert')] : rules === 'default-trust' ? [defaultRule('trust')] : compileRules(rules),
    source: typeof rules === 'string' ? 'default' : 'rules',
    sourceLabel: 'rules: in pgmoat.yaml',
    identMaps: identMapsFromConfig({ apps: [{ cn: '/^(.*)-ci$/', role: '\\1' }, { cn: 'ops', role: 'all' }] }),
    userlist: new Map(),
    mockKey: Buffer.alloc(32),
    authUserPassword: undefined,
    sanIdentities: false,
  };
}

const f = (over: Partial<AccessFacts> = {}): AccessFacts => ({
  tls: true,
  database: 'appdb',
  role: 'app',
  address: '127.0.0.1',
  identity: { cn: 'app', environment: 'production' },
  ...over,
});

function refusal(fn: () => unknown): PgmoatError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof PgmoatError);
    return err;
  }
  assert.fail('expected a refusal');
}

describe('decideAccess', () => {
  it('no matching rule: 28000 worded like pg_hba.conf, naming where the rules are', () => {
    const e = refusal(() => decideAccess(runtime([{ roles: ['other'], method: 'trust' }]), 'verify-ca', f()));
    assert.equal(e.code, 'NO_RULE');
    assert.equal(e.sqlstate, '28000');
    assert.equal(e.message, 'no pgmoat access rule for host "127.0.0.1", user "app", database "appdb", SSL encryption');
    assert.equal(e.hint, 'No entry of rules: in pgmoat.yaml matches this connection.');
    const plain = refusal(() => decideAccess(runtime([{ type: 'tls', method: 'trust' }]), 'prefer', f({ tls: false, identity: undefined })));
    assert.match(plain.message, /, no encryption$/);
  });
  it('reject', () => {
    const e = refusal(() => decideAccess(runtime([{ method: 'reject' }]), 'verify-ca', f()));
    assert.equal(e.code, 'RULE_REJECTS');
    assert.equal(e.message, 'pgmoat access rules reject connection for host "127.0.0.1", user "app", database "appdb", SSL encryption');
  });
  it('the default rule in verify-full: CN must equal the role (the message of the gateway issue)', () => {
    assert.equal(decideAccess(runtime('default-cert'), 'verify-full', f()).password, undefined);
    const e = refusal(() => decideAccess(runtime('default-cert'), 'verify-full', f({ role: 'admin' })));
    assert.equal(e.code, 'CERT_ROLE_MISMATCH');
    assert.equal(e.message, 'certificate authentication failed for user "admin": the certificate was issued for "app"');
  });
  it('verify-ca: a scram rule does not check the CN, a cert rule does', () => {
    assert.equal(decideAccess(runtime([{ method: 'scram-sha-256' }]), 'verify-ca', f({ role: 'admin' })).password, 'scram-sha-256');
    refusal(() => decideAccess(runtime([{ method: 'cert' }]), 'verify-ca', f({ role: 'admin' })));
  });
  it('verify-full checks the CN whatever the method', () => {
    const e = refusal(() => decideAccess(runtime([{ method: 'scram-sha-256' }]), 'verify-full', f({ role: 'admin' })));
    assert.equal(e.code, 'CERT_ROLE_MISMATCH');
  });
  it('cert+scram asks for both', () => {
    assert.equal(decideAccess(runtime([{ method: 'cert+scram-sha-256' }]), 'verify-ca', f()).password, 'scram-sha-256');
    refusal(() => decideAccess(runtime([{ method: 'cert+scram-sha-256' }]), 'verify-ca', f({ role: 'x' })));
  });
  it('an identity map replaces CN = role: regex capture and all', () => {
    const rt = runtime([{ method: 'cert', map: 'apps' }]);
    assert.ok(decideAccess(rt, 'verify-full', f({ role: 'api', identity: { cn: 'api-ci', environment: 'ci' } })));
    assert.ok(decideAccess(rt, 'verify-full', f({ role: 'anything', identity: { cn: 'ops', environment: 'production' } })));
    const e = refusal(() => decideAccess(rt, 'verify-full', f({ role: 'app', identity: { cn: 'app', environment: 'production' } })));
    assert.equal(e.message, 'certificate authentication failed for user "app": identity map "apps" does not let certificate "app" use this role');
  });
  it('a cert method without a certificate: refused', () => {
    const e = refusal(() => decideAccess(runtime([{ method: 'cert' }]), 'verify-ca', f({ identity: undefined })));
    assert.equal(e.code, 'CLIENT_CERT_REQUIRED');
  });

  describe('certificates identified by SANs', () => {
    const rt = (rules: RuleConfig[]): AccessRuntime => ({
      ...runtime(rules),
      identMaps: identMapsFromConfig({
        spiffe: [{ uri: '/^spiffe://prod\\.example/ns/prod/sa/([a-z_]+)$/', role: '\\1' }, { dns: 'reports.prod.svc', role: 'reports_ro' }],
        apps: [{ cn: 'ops', role: 'all' }],
      }),
      sanIdentities: true,
    });
    const svid = (uri: string) => ({ cn: undefined, environment: undefined, uris: [uri], dnsNames: [] });
    it('a SPIFFE ID maps to a role by regex capture', () => {
      const d = decideAccess(rt([{ method: 'cert', map: 'spiffe' }]), 'verify-ca', f({ role: 'api', identity: svid('spiffe://prod.example/ns/prod/sa/api') }));
      assert.equal(d.rule.label, 'rules[0]');
    });
    it('a SAN the map does not allow: CERT_SAN_ROLE_MISMATCH, 28000, naming the SAN', () => {
      const e = refusal(() => decideAccess(rt([{ method: 'cert', map: 'spiffe' }]), 'verify-ca', f({ role: 'api', identity: svid('spiffe://staging.example/ns/prod/sa/api') })));
      assert.equal(e.code, 'CERT_SAN_ROLE_MISMATCH');
      assert.equal(e.sqlstate, '28000');
      assert.equal(e.message, 'certificate authentication failed for user "api": identity map "spiffe" does not let uri:"spiffe://staging.example/ns/prod/sa/api" use this role');
    });
    it('a certificate without CN on a rule without map: CERT_SAN_UNMAPPED, never "any role"', () => {
      const e = refusal(() => decideAccess(rt([{ san: ['uri:spiffe://prod.example/*'], method: 'cert' }]), 'verify-ca', f({ role: 'api', identity: svid('spiffe://prod.example/ns/prod/sa/api') })));
      assert.equal(e.code, 'CERT_SAN_UNMAPPED');
      assert.equal(e.sqlstate, '28000');
      // verify-full checks the identity whatever the method.
      const full = refusal(() => decideAccess(rt([{ method: 'trust' }]), 'verify-full', f({ role: 'api', identity: svid('spiffe://prod.example/ns/prod/sa/api') })));
      assert.equal(full.code, 'CERT_SAN_UNMAPPED');
      // A CN-only map (apps: ops -> all) gives a certificate without CN nothing.
      assert.equal(refusal(() => decideAccess(rt([{ method: 'cert', map: 'apps' }]), 'verify-ca', f({ role: 'api', identity: svid('spiffe://x/ops') }))).code, 'CERT_SAN_ROLE_MISMATCH');
    });
    it('a CN certificate with DNS SANs (cert-manager): a dns entry maps it; without map CN = role as before', () => {
      const cm = { cn: 'reports', environment: undefined, uris: [], dnsNames: ['reports.prod.svc'] };
      assert.ok(decideAccess(rt([{ method: 'cert', map: 'spiffe' }]), 'verify-ca', f({ role: 'reports_ro', identity: cm })));
      assert.ok(decideAccess(rt([{ method: 'cert' }]), 'verify-ca', f({ role: 'reports', identity: cm })));
      const e = refusal(() => decideAccess(rt([{ method: 'cert' }]), 'verify-ca', f({ role: 'reports_ro', identity: cm })));
      assert.equal(e.code, 'CERT_ROLE_MISMATCH');
    });
  });
});
