import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initCa } from './init.js';
import { openCa } from './authority.js';
import { issueClient } from './issue-client.js';
import { issueServer } from './issue-server.js';
import { writeCrl } from './revoke.js';
import { pemBlocks } from '@pgmoat/client/internal';
import { readCaDefaults } from './ca-defaults.js';

const work = mkdtempSync(join(tmpdir(), 'pgmoat-ca-int-'));
after(() => rmSync(work, { recursive: true, force: true }));

function certs(path: string): X509Certificate[] {
  return pemBlocks(readFileSync(path, 'utf8'))
    .filter((b) => b.label === 'CERTIFICATE')
    .map((b) => new X509Certificate(b.der));
}

test('init --intermediate: a root that signs only the intermediate, which signs the rest; the root key can go', async () => {
  const dir = join(work, 'two');
  const r = await initCa({ dir, intermediate: true, clientLifetime: '24h', serverLifetime: '30d' });
  assert.equal(r.intermediate, true);
  const [root] = certs(join(dir, 'ca.crt'));
  const [inter] = certs(join(dir, 'intermediate.crt'));
  assert.ok(root!.ca && inter!.ca);
  assert.ok(inter!.verify(root!.publicKey));
  assert.notEqual(inter!.subject, root!.subject);
  assert.deepEqual(certs(join(dir, 'ca-bundle.crt')).map((c) => c.fingerprint256), [root!.fingerprint256, inter!.fingerprint256]);
  for (const f of ['ca.key', 'intermediate.key', 'server.key']) assert.equal(statSync(join(dir, f)).mode & 0o777, 0o600, f);
  const server = certs(join(dir, 'server.crt'));
  assert.equal(server.length, 2, 'server.crt carries the intermediate after the leaf');
  assert.ok(server[0]!.verify(inter!.publicKey));
  assert.equal(new Date(server[0]!.validTo).getTime() - Date.now() > 29 * 86_400_000, true);
  assert.match(readFileSync(join(dir, 'pgmoat.yaml'), 'utf8'), /^ {2}ca: ca-bundle\.crt$/m);
  assert.deepEqual(readCaDefaults(dir), { client: { ms: 86_400_000, text: '24h' }, server: { ms: 30 * 86_400_000, text: '30d' } });

  // Offline root: everything that issues keeps working.
  unlinkSync(join(dir, 'ca.key'));
  const ca = await openCa(dir);
  const issued = await issueClient(ca, { name: 'api', environment: 'prod', sans: ['DNS:api.internal', 'URI:spiffe://prod.example/ns/prod/sa/api'] });
  const chain = pemBlocks(issued.certPem).map((b) => new X509Certificate(b.der));
  assert.equal(chain.length, 2);
  assert.ok(chain[0]!.verify(inter!.publicKey));
  assert.equal(chain[1]!.fingerprint256, inter!.fingerprint256);
  assert.equal(chain[0]!.subjectAltName, 'URI:pgmoat://prod/api, DNS:api.internal, URI:spiffe://prod.example/ns/prod/sa/api');
  assert.equal(chain[0]!.issuer, inter!.subject);
  // Default client lifetime from defaults.json: 24 hours, backdated 5 minutes.
  const lifetime = new Date(chain[0]!.validTo).getTime() - new Date(chain[0]!.validFrom).getTime();
  assert.equal(lifetime, 86_400_000 + 5 * 60_000);
  assert.equal(issued.entry.certificate.match(/BEGIN CERTIFICATE/g)?.length, 1, 'the inventory keeps the leaf only');
  await issueServer(ca, { lifetime: '2h' });
  const { crl } = await writeCrl(ca);
  assert.match(crl.pem, /BEGIN X509 CRL/);
  assert.ok(!existsSync(join(dir, 'ca.key')));
});

test('a one-level CA is unchanged: no chain after the leaf, built-in lifetimes, ca.crt in the starter config', async () => {
  const dir = join(work, 'one');
  await initCa({ dir });
  assert.ok(!existsSync(join(dir, 'intermediate.crt')) && !existsSync(join(dir, 'ca-bundle.crt')));
  assert.equal(certs(join(dir, 'server.crt')).length, 1);
  assert.match(readFileSync(join(dir, 'pgmoat.yaml'), 'utf8'), /^ {2}ca: ca\.crt$/m);
  // A directory made before defaults.json existed reads the built-in defaults.
  unlinkSync(join(dir, 'defaults.json'));
  const ca = await openCa(dir);
  assert.equal(ca.chainPem, '');
  const issued = await issueClient(ca, { name: 'api', environment: 'prod', lifetime: '90m' });
  assert.equal(pemBlocks(issued.certPem).length, 1);
  const [leaf] = certs(join(dir, 'ca.crt'));
  const c = new X509Certificate(issued.certPem);
  assert.ok(c.verify(leaf!.publicKey));
  assert.equal(new Date(c.validTo).getTime() - new Date(c.validFrom).getTime(), 90 * 60_000 + 5 * 60_000);
  const plain = await issueClient(ca, { name: 'web', environment: 'prod' });
  const p = new X509Certificate(plain.certPem);
  assert.equal(new Date(p.validTo).getTime() - new Date(p.validFrom).getTime(), 90 * 86_400_000 + 5 * 60_000);
  writeFileSync(join(dir, 'defaults.json'), '{"version":1,"clientLifetime":"1m"}');
  await assert.rejects(openCa(dir), { code: 'CA_DEFAULTS_INVALID', message: /clientLifetime in .*defaults\.json must be/ });
  writeFileSync(join(dir, 'defaults.json'), '{"version":1,');
  await assert.rejects(openCa(dir), { code: 'CA_DEFAULTS_INVALID', message: /defaults\.json is damaged/ });
});

test('init refuses a default lifetime past the signing CA, and bad lifetimes', async () => {
  await assert.rejects(initCa({ dir: join(work, 'bad1'), intermediate: true, clientLifetime: '2000d' }), { code: 'INVALID_LIFETIME', message: /--client-lifetime 2000d would outlive the CA that signs \(1825 days\)/ });
  await assert.rejects(initCa({ dir: join(work, 'bad2'), serverLifetime: '1m' }), { code: 'INVALID_LIFETIME' });
  assert.ok(!existsSync(join(work, 'bad1')) && !existsSync(join(work, 'bad2')));
});
