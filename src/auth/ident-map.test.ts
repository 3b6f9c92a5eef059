import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mapAllows, mapAllowsNames, parseIdentFile } from './ident-map.js';
import { identMapsFromConfig } from './ident-config.js';
import { isPgmoatError } from '../util/errors.js';

const IDENT = String.raw`
# MAPNAME   SYSTEM-USERNAME              PG-USERNAME
certmap     billing-api                  billing
certmap     billing-api                  billing_ro
certmap     /^(.*)\.prod\.example\.com$  \1
certmap     /^svc-(ro|rw)-(.*)$          app_\1
certmap     "ops admin"                  all
certmap     /^reader-                    +readers
certmap     auditor                      /^audit_[a-z]+$
other       alice                        "all"
`;

test('parses maps by name, in file order', () => {
  const maps = parseIdentFile(IDENT);
  assert.deepEqual([...maps.keys()], ['certmap', 'other']);
  assert.equal(maps.get('certmap')!.length, 7);
  assert.equal(maps.get('certmap')![0]!.line, 3);
  assert.deepEqual(maps.get('other')![0]!.role, { kind: 'name', name: 'all' });
});

test('mapAllows: exact names, regex with \\1, all, +group, /regex', () => {
  const maps = parseIdentFile(IDENT);
  const certmap = maps.get('certmap')!;
  const isMember = (user: string, role: string): boolean => role === 'readers' && user === 'report';
  const allows = (identity: string, role: string): boolean => mapAllows(certmap, identity, role, { isMember });

  assert.equal(allows('billing-api', 'billing'), true);
  assert.equal(allows('billing-api', 'billing_ro'), true);
  assert.equal(allows('billing-api', 'postgres'), false);
  assert.equal(allows('Billing-api', 'billing'), false); // case-sensitive, as PostgreSQL

  assert.equal(allows('orders.prod.example.com', 'orders'), true);
  assert.equal(allows('orders.prod.example.com', 'orders.prod'), false);
  assert.equal(allows('orders.prodXexample.com', 'orders'), false);

  // Only the first \1 is substituted, by the first capture group.
  assert.equal(allows('svc-ro-x', 'app_ro'), true);
  assert.equal(allows('svc-rw-x', 'app_ro'), false);

  assert.equal(allows('ops admin', 'anything'), true);
  assert.equal(allows('reader-7', 'report'), true);
  assert.equal(allows('reader-7', 'readers'), true);
  assert.equal(allows('reader-7', 'postgres'), false);
  assert.equal(allows('auditor', 'audit_eu'), true);
  assert.equal(allows('auditor', 'audit_EU'), false);
  assert.equal(allows('nobody', 'billing'), false);

  // Quoted "all" is a role named all.
  assert.equal(mapAllows(maps, 'other', 'alice', 'all'), true);
  assert.equal(mapAllows(maps, 'other', 'alice', 'bob'), false);
  assert.equal(mapAllows(maps, 'missing', 'alice', 'all'), false);
});

test('membership is never guessed', () => {
  const certmap = parseIdentFile(IDENT).get('certmap')!;
  assert.throws(() => mapAllows(certmap, 'reader-1', 'report'), (err: unknown) => isPgmoatError(err) && err.code === 'IDENT_GROUP_UNRESOLVED');
});

test('errors carry the line number', () => {
  const cases: [string, number, RegExp][] = [
    ['m a', 1, /end-of-line before PostgreSQL user name/],
    ['m', 1, /end-of-line before system user name/],
    ['m a b c', 1, /extra fields/],
    ['\nm a,b c', 2, /multiple values/],
    ['m /([) b', 1, /invalid regular expression/],
    ['m /^x$ \\1', 1, /no capture group/],
    ['m a +', 1, /must be followed/],
    ['include other.conf x', 1, /not supported/],
    ['m "a b', 1, /unterminated/],
  ];
  for (const [text, line, pattern] of cases) {
    assert.throws(
      () => parseIdentFile(text, { fileName: 'ident.conf' }),
      (err: unknown) => {
        assert.ok(isPgmoatError(err), String(err));
        assert.equal(err.code, 'IDENT_INVALID');
        assert.match(err.message, new RegExp(`^ident\\.conf line ${line}: `), text);
        assert.match(err.message, pattern, text);
        return true;
      },
    );
  }
});

test('uri: and dns: entries match SANs (SPIFFE IDs with \\1), never the CN', () => {
  const maps = parseIdentFile(String.raw`
spiffe   uri:/^spiffe://prod\.example/ns/prod/sa/([a-z_]+)$   \1
spiffe   dns:Reports.Prod.svc                                  reports_ro
spiffe   "uri:literal"                                         literal_cn
`);
  const m = maps.get('spiffe')!;
  assert.equal(m[0]!.san, 'uri');
  assert.equal(m[1]!.san, 'dns');
  assert.equal(m[2]!.san, undefined, 'quoted: a literal CN');
  const svid = (uri: string) => ({ cn: undefined, uris: [uri] });
  assert.equal(mapAllowsNames(m, svid('spiffe://prod.example/ns/prod/sa/api'), 'api'), true);
  assert.equal(mapAllowsNames(m, svid('spiffe://prod.example/ns/prod/sa/api'), 'billing'), false);
  assert.equal(mapAllowsNames(m, svid('spiffe://staging.example/ns/prod/sa/api'), 'api'), false);
  assert.equal(mapAllowsNames(m, svid('spiffe://prod.example/ns/prod/sa/api/x'), 'api'), false);
  // Several URI SANs: any one that matches, with its own capture.
  assert.equal(mapAllowsNames(m, { cn: undefined, uris: ['spiffe://other/x', 'spiffe://prod.example/ns/prod/sa/web'] }, 'web'), true);
  // DNS without case.
  assert.equal(mapAllowsNames(m, { cn: 'x', dnsNames: ['reports.prod.svc'] }, 'reports_ro'), true);
  // A CN equal to the SAN text is not a SAN.
  assert.equal(mapAllowsNames(m, { cn: 'spiffe://prod.example/ns/prod/sa/api' }, 'api'), false);
  assert.equal(mapAllows(m, 'spiffe://prod.example/ns/prod/sa/api', 'api'), false);
  assert.equal(mapAllows(m, 'uri:literal', 'literal_cn'), true);
});

test('inline uri:/dns: entries, exactly one of cn, uri and dns', () => {
  const maps = identMapsFromConfig({
    w: [
      { uri: '/^spiffe://prod\\.example/ns/prod/sa/(.*)$/', role: '\\1' },
      { dns: 'API.prod.svc', role: 'api' },
    ],
  });
  const w = maps.get('w')!;
  assert.equal(mapAllowsNames(w, { cn: undefined, uris: ['spiffe://prod.example/ns/prod/sa/orders'] }, 'orders'), true);
  assert.equal(mapAllowsNames(w, { cn: undefined, dnsNames: ['api.prod.svc'] }, 'api'), true);
  assert.throws(() => identMapsFromConfig({ w: [{ cn: 'a', uri: 'spiffe://x', role: 'a' }] }), /exactly one of cn, uri and dns/);
  assert.throws(() => identMapsFromConfig({ w: [{ role: 'a' }] }), /exactly one of cn, uri and dns/);
  assert.throws(() => identMapsFromConfig({ w: [{ uri: 'spiffe://x', role: '\\1' }] }), /needs a \/regex\/ in uri/);
});
