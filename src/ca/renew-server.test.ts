import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initCa } from './init.js';
import { openCa } from './authority.js';
import { issueServer } from './issue-server.js';
import { readInventory } from './inventory.js';
import { renewServerCertificate, serverCertificateOrigin } from './renew-server.js';
import { backdateFor, DAY_MS, HOUR_MS, lifetimeOfSpan, MINUTE_MS } from './lifetime.js';

test('lifetimeOfSpan undoes the backdating of issue (a tenth, at most 5 minutes)', () => {
  for (const lifetime of [5 * MINUTE_MS, 10 * MINUTE_MS, 50 * MINUTE_MS, 51 * MINUTE_MS, 24 * HOUR_MS, 825 * DAY_MS]) {
    assert.equal(lifetimeOfSpan(lifetime + backdateFor(lifetime)), lifetime);
  }
});

test('a server certificate of this CA renews with its identity, key type and lifetime; one of another CA is not ours', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgmoat-renew-server-'));
  try {
    await initCa({ dir: join(dir, 'ca'), caName: 'main', keyType: 'rsa-2048', hosts: ['db.internal', '10.0.0.7'], intermediate: true });
    await initCa({ dir: join(dir, 'other'), caName: 'other', keyType: 'ec-p256', hosts: ['db.internal'] });
    const ca = await openCa(join(dir, 'ca'));
    const current = await issueServer(ca, { lifetime: '90m' });
    const origin = await serverCertificateOrigin(ca, readFileSync(current.certPath, 'utf8'));
    assert.ok(origin.ours);
    const renewed = await renewServerCertificate(ca, origin, { keyPassphrase: 'pass phrase' });
    const [oldLeaf, newLeaf] = [new X509Certificate(current.certPem), new X509Certificate(renewed.certPem)];
    assert.equal(newLeaf.subject, oldLeaf.subject);
    assert.equal(newLeaf.subjectAltName, oldLeaf.subjectAltName);
    assert.deepEqual(newLeaf.keyUsage, oldLeaf.keyUsage);
    assert.equal(newLeaf.publicKey.asymmetricKeyType, 'rsa');
    assert.equal(Date.parse(newLeaf.validTo) - Date.parse(newLeaf.validFrom), Date.parse(oldLeaf.validTo) - Date.parse(oldLeaf.validFrom));
    assert.ok(newLeaf.checkPrivateKey(createPrivateKey({ key: renewed.keyPem, passphrase: 'pass phrase' })));
    assert.match(renewed.keyPem, /ENCRYPTED PRIVATE KEY/);
    // The chain follows the leaf (two-level CA), and it verifies against the intermediate.
    assert.equal(renewed.certPem.match(/BEGIN CERTIFICATE/g)?.length, 2);
    assert.ok(newLeaf.verify(new X509Certificate(ca.chainPem).publicKey));
    const entry = readInventory(ca.dir).certificates.find((e) => e.serial === renewed.serial);
    assert.equal(entry?.kind, 'server');
    assert.equal(entry?.name, 'db.internal');
    // The certificate it replaced is kept, marked as superseded by the new one.
    const replaced = readInventory(ca.dir).certificates.find((e) => e.serial === renewed.oldSerial);
    assert.equal(replaced?.supersededBy, renewed.serial);
    const foreign = await serverCertificateOrigin(ca, readFileSync(join(dir, 'other', 'server.crt'), 'utf8'));
    assert.equal(foreign.ours, false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
