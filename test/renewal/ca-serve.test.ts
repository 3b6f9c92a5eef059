/**
 * `pgmoat ca serve` as processes on one CA directory: an encrypted CA key (passphrase from the
 * environment), two services and a `pgmoat issue` writing at once keep the inventory whole, and
 * a service killed with SIGKILL in the middle of renewals leaves a readable inventory holding
 * every certificate it handed out; the next run renews.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { collectResult, pgmoat, spawnPgmoat } from '../ca/run-pgmoat.js';
import { issueClient, openCa, type CertificateAuthority } from '../../src/ca/index.js';
import { readInventory } from '../../src/ca/inventory.js';
import { curl, opensslCsr, serialOf, workDir } from './helpers.js';

let work: string;
let caDir: string;
let ca: CertificateAuthority;
const PASSPHRASE = 'correct horse battery staple';
const running = new Set<ChildProcess>();

before(async () => {
  work = workDir();
  caDir = join(work, 'ca');
  const pass = join(work, 'pass');
  writeFileSync(pass, PASSPHRASE + '\n', { mode: 0o600 });
  const init = await pgmoat(['init', '--dir', caDir, '--ca-passphrase-file', pass]);
  assert.equal(init.code, 0, init.stderr);
  ca = await openCa(caDir, PASSPHRASE);
});
after(() => {
  for (const c of running) c.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

interface Service {
  proc: ChildProcess;
  url: string;
  output(): string;
}

/** `pgmoat ca serve` on a free port; the CA passphrase from the environment, or from the 0600 file. */
async function serve(passphraseFrom: 'env' | 'file' = 'env'): Promise<Service> {
  process.env.PGMOAT_TEST_CA_PASS = PASSPHRASE;
  const pass = passphraseFrom === 'env' ? ['--ca-passphrase-env', 'PGMOAT_TEST_CA_PASS'] : ['--ca-passphrase-file', join(work, 'pass')];
  const proc = spawnPgmoat(['ca', 'serve', '--dir', caDir, '--listen', '127.0.0.1:0', ...pass]);
  running.add(proc);
  proc.on('exit', () => running.delete(proc));
  let out = '';
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`ca serve did not start:\n${out}`)), 30_000);
    const check = (): void => {
      const m = /"event":"renewal_listening".*?"port":(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    proc.stdout!.on('data', check);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`ca serve exited with ${code}:\n${out}`));
    });
  });
  return { proc, url: `https://localhost:${port}`, output: () => out };
}

async function client(name: string): Promise<{ certPath: string; keyPath: string; serial: string }> {
  const out = join(work, 'clients', name);
  mkdirSync(out, { recursive: true });
  const issued = await issueClient(ca, { name, environment: 'production', outDir: out });
  return { certPath: issued.files!.cert, keyPath: issued.files!.key!, serial: issued.serial };
}

async function renew(svc: Service, c: { certPath: string; keyPath: string }, name: string, tag: string) {
  const { csrPath } = opensslCsr(join(work, 'clients', name), tag, `/CN=${name}`);
  return curl(`${svc.url}/v1/renew`, { cert: c.certPath, key: c.keyPath, cacert: join(caDir, 'ca.crt'), dataFile: csrPath });
}

test('the CA key is encrypted: without its passphrase, or readable by others, ca serve refuses to start', async () => {
  const noPass = await pgmoat(['ca', 'serve', '--dir', caDir, '--listen', '127.0.0.1:0']);
  assert.equal(noPass.code, 1);
  assert.match(noPass.stderr, /encrypted/);
  chmodSync(join(caDir, 'ca.key'), 0o644);
  try {
    const loose = await pgmoat(['ca', 'serve', '--dir', caDir, '--listen', '127.0.0.1:0']);
    assert.equal(loose.code, 1);
    assert.match(loose.stderr, /readable by group or others/);
  } finally {
    chmodSync(join(caDir, 'ca.key'), 0o600);
  }
});

test('two services and a pgmoat issue at once keep the inventory whole', async () => {
  const a = await serve('env');
  const b = await serve('file');
  const names = Array.from({ length: 8 }, (_, i) => `conc${i}`);
  const clients = await Promise.all(names.map((n) => client(n)));
  const before = readInventory(caDir).certificates.length;
  const [answers, issued] = await Promise.all([
    Promise.all(clients.map((c, i) => renew(i % 2 === 0 ? a : b, c, names[i]!, 'new'))),
    collectResult(spawnPgmoat(['issue', 'bystander', '--env', 'production', '--dir', caDir, '--out', join(work, 'bystander'), '--ca-passphrase-file', join(work, 'pass')])),
  ]);
  assert.equal(issued.code, 0, issued.stderr);
  for (const r of answers) assert.equal(r.status, 200, r.body);
  const inv = readInventory(caDir).certificates;
  assert.equal(inv.length, before + names.length + 1);
  for (const r of answers) assert.ok(inv.some((e) => e.serial === serialOf(r.body)), 'every renewed certificate is in the inventory');
  assert.ok(inv.some((e) => e.name === 'bystander'));
  assert.equal(new Set(inv.map((e) => e.serial)).size, inv.length);
  a.proc.kill('SIGTERM');
  b.proc.kill('SIGTERM');
});

test('kill -9 in the middle of renewals: no half-written inventory, no lost certificate, the next run renews', async () => {
  const svc = await serve();
  const names = ['kill0', 'kill1', 'kill2'];
  const clients = await Promise.all(names.map((n) => client(n)));
  const before = readInventory(caDir).certificates.length;
  const answered: string[] = [];
  let stop = false;
  // Three streams of renewals until the service dies under them.
  const streams = clients.map(async (c, i) => {
    for (let n = 0; !stop; n++) {
      const r = await renew(svc, c, names[i]!, `k${n}`);
      if (r.status === 200) answered.push(serialOf(r.body));
      else return;
    }
  });
  const deadline = Date.now() + 60_000;
  while (readInventory(caDir).certificates.length < before + 6 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  svc.proc.kill('SIGKILL');
  stop = true;
  await Promise.all(streams);
  await new Promise((r) => (svc.proc.exitCode !== null || svc.proc.signalCode !== null ? r(undefined) : svc.proc.once('exit', r)));
  const inv = readInventory(caDir).certificates; // parses: never torn
  assert.ok(inv.length >= before + 6, `${inv.length - before} renewals before the kill`);
  for (const s of answered) assert.ok(inv.some((e) => e.serial === s), `certificate ${s} handed out but not in the inventory`);
  // The next run takes the stale lock over and renews.
  const next = await serve();
  const r = await renew(next, clients[0]!, 'kill0', 'after');
  assert.equal(r.status, 200, r.body);
  assert.ok(readInventory(caDir).certificates.some((e) => e.serial === serialOf(r.body)));
  assert.deepEqual(readdirSync(caDir).filter((f) => f.endsWith('.tmp')), []);
  next.proc.kill('SIGTERM');
});
