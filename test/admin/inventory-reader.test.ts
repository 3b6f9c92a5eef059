/**
 * The certificate catalog reads a CA inventory in a worker thread (src/admin/inventory-reader.ts):
 * rows as the catalog lists them, the event loop free while a large inventory is read, a change seen
 * at the next refresh, a damaged file leaving the last copy in use, and a store-less directory that
 * disappears leaving nothing stale. Real CA directories made by the project's own CA code.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initCa, issueClient, openCa, revoke, type CertificateAuthority } from '../../src/ca/index.js';
import { readInventoryRows } from '../../src/admin/inventory-reader.js';
import { CertificateCatalog, type CatalogGateway } from '../../src/admin/certificate-catalog.js';
import { addScaleInventory } from '../dashboard/scale-inventory.js';

let work: string;
let dir: string;
let ca: CertificateAuthority;

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'pgmoat-inventory-reader-'));
  dir = join(work, 'ca');
  await initCa({ dir, keyType: 'ec-p256' });
  ca = await openCa(dir);
  await issueClient(ca, { name: 'alice', environment: 'production', outDir: join(work, 'out'), sans: ['DNS:alice.internal'] });
  await addScaleInventory(ca, 3000, 5);
});
after(() => rmSync(work, { recursive: true, force: true }));

/** Only the gateway's settings stand in; the CA directory, its files and the thread are real. */
function catalogOf(caDir: string): CertificateCatalog {
  const gateway = {
    runtime: { config: { renewal: { ca_dir: caDir }, tls: { mode: 'disable' } }, clientTls: undefined },
    revocations: { lookup: () => undefined },
    pools: new Map(),
  } as unknown as CatalogGateway;
  return new CertificateCatalog(gateway);
}

test('the thread returns every certificate with its serial, dates, SANs and revocation', async () => {
  const rows = await readInventoryRows(dir);
  const inventory = JSON.parse(readFileSync(join(dir, 'inventory.json'), 'utf8')) as { certificates: { serial: string; status: string; name: string }[] };
  assert.equal(rows.length, inventory.certificates.length);
  const alice = rows.find((r) => r.cn === 'alice')!;
  assert.equal(alice.environment, 'production');
  assert.ok(alice.sans.includes('DNS:alice.internal'), alice.sans.join(','));
  assert.ok(alice.notAfter > Date.now() && alice.notBefore <= Date.now());
  assert.equal(rows.filter((r) => r.markedRevoked).length, inventory.certificates.filter((c) => c.status === 'revoked').length);
  assert.ok(rows.some((r) => r.markedRevoked), 'the scale inventory has revoked entries');
});

test('the event loop keeps turning while the catalog reads 3,000 certificates', async () => {
  const catalog = catalogOf(dir);
  let turns = 0;
  let done = false;
  const spin = (): void => {
    turns++;
    if (!done) setImmediate(spin);
  };
  setImmediate(spin);
  await catalog.refreshInventory();
  done = true;
  // Read on this thread, the whole read would happen before the first setImmediate callback.
  assert.ok(turns > 1, `the loop turned ${turns} times during the read`);
  assert.equal(catalog.hasInventory(), true);
  assert.ok(catalog.list().filter((c) => c.source === 'inventory').length > 3000);
});

test('a change to the inventory is seen at the next refresh; a damaged file leaves the last copy in use', async () => {
  const catalog = catalogOf(dir);
  await catalog.refreshInventory();
  const before = catalog.list().filter((c) => c.source === 'inventory').length;
  const issued = await issueClient(ca, { name: 'bob', environment: 'staging', outDir: join(work, 'out') });
  await catalog.refreshInventory();
  assert.equal(catalog.list().filter((c) => c.source === 'inventory').length, before + 1);
  await revoke(ca, { target: 'bob', environment: 'staging', reason: 'keyCompromise' });
  await catalog.refreshInventory();
  const bob = catalog.list().find((c) => c.serial === issued.serial)!;
  assert.equal(bob.revoked, true);
  assert.equal(bob.reason, 'keyCompromise');

  // Damaged (the way a hand edit damages it): the read fails in the thread; the copy stays.
  const path = join(dir, 'inventory.json');
  const good = readFileSync(path, 'utf8');
  writeFileSync(path + '.tmp', good.slice(0, good.length / 2));
  renameSync(path + '.tmp', path);
  await catalog.refreshInventory();
  assert.equal(catalog.list().filter((c) => c.source === 'inventory').length, before + 1);
  await assert.rejects(readInventoryRows(dir), /inventory/i);
  // The thread answers the next read after a failed one.
  writeFileSync(path + '.tmp', good);
  renameSync(path + '.tmp', path);
  assert.equal((await readInventoryRows(dir)).length, before + 1);
});

test('a directory that is no CA directory lists no inventory', async () => {
  const catalog = catalogOf(join(work, 'nothing-here'));
  await catalog.refreshInventory();
  assert.equal(catalog.hasInventory(), false);
  assert.deepEqual(catalog.list().filter((c) => c.source === 'inventory'), []);
});
