import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { makePki, type Pki } from '../../test/harness/cert-factory.js';
import { recoverPair, replacePair } from './pair-files.js';

let pki: Pki;
let dir: string;

before(async () => {
  pki = await makePki();
  dir = mkdtempSync(join(tmpdir(), 'pgmoat-pair-'));
});
after(() => {
  pki?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

/** The serial of the pair on disk; throws when the key is not the certificate's. */
function pairOnDisk(cert: string, key: string): string {
  const c = new X509Certificate(readFileSync(cert));
  const spki = createPublicKey(createPrivateKey(readFileSync(key))).export({ type: 'spki', format: 'der' });
  assert.ok(spki.equals(c.publicKey.export({ type: 'spki', format: 'der' })), 'the key on disk belongs to the certificate on disk');
  return c.serialNumber.toLowerCase();
}

test('kill -9 at any moment of a pair replacement: after recoverPair the pair on disk is always whole', { timeout: 120_000 }, async () => {
  const cert = join(dir, 'app.crt');
  const key = join(dir, 'app.key');
  const first = await pki.client('app');
  replacePair(cert, key, first.certPem, first.keyPem);
  const pairs = [await pki.client('app'), await pki.client('app')].map((c) => ({ certPem: c.certPem, keyPem: c.keyPem }));
  const known = [first.serial, ...pairs.map((p) => new X509Certificate(p.certPem).serialNumber.toLowerCase())];
  const pairsFile = join(dir, 'pairs.json');
  writeFileSync(pairsFile, JSON.stringify(pairs));
  const helper = fileURLToPath(new URL('./replace-loop.test-helper.ts', import.meta.url));
  const outcomes: string[] = [];
  for (let round = 0; round < 12; round++) {
    const child = spawn(process.execPath, ['--import', 'tsx', helper, cert, key, pairsFile], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
    await sleep(5 + Math.floor(Math.random() * 60));
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    outcomes.push(recoverPair(cert, key, undefined));
    assert.ok(known.includes(pairOnDisk(cert, key)), `round ${round}: a pair that was never written`);
    assert.equal(statSync(key).mode & 0o777, 0o600);
  }
  // Which moment each kill hits varies. Without recoverPair, a kill between the two renames
  // leaves the new key beside the old certificate and the assertion above fails.
  assert.equal(outcomes.length, 12);
});

test('one file for both (--cert F --key F): the chain then the key, 0600, replaced whole by one rename', async () => {
  const pem = join(dir, 'one.pem');
  const a = await pki.client('app');
  const b = await pki.client('app');
  replacePair(pem, pem, a.certPem, a.keyPem);
  assert.equal(pairOnDisk(pem, pem), a.serial);
  assert.equal(statSync(pem).mode & 0o777, 0o600);
  replacePair(pem, pem, b.certPem, b.keyPem);
  assert.equal(pairOnDisk(pem, pem), b.serial);
  assert.equal(recoverPair(pem, pem, undefined), 'none');
  assert.equal(readFileSync(pem, 'utf8'), b.certPem + b.keyPem);
});
