/**
 * The `pgmoat` command (bin/pgmoat) starts Node with bin/openssl.cnf: one TLS 1.3 session
 * ticket per full handshake instead of OpenSSL's two, and resumption still works with it.
 * The same build started with a bare `node` sends two: the setting is what makes the difference.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, chmodSync, writeFileSync, mkdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { makePki, type ClientFiles, type Pki } from '../harness/cert-factory.js';
import { startGatewayProcess, writeConfig, type GatewayLauncher } from '../harness/gateway.js';
import { freePort } from '../harness/free-port.js';
import { resumableLogin } from './raw-wire.js';
import { clientTlsSection, plainUpstream } from './helpers.js';

const ROOT = new URL('../..', import.meta.url).pathname;

let upstream: PgServer;
let pki: Pki;
let app: ClientFiles;
let dir: string;

before(async () => {
  if (!existsSync(join(ROOT, 'dist/src/cli/main.js'))) throw new Error('dist/ is missing: run `npm run build` (npm ci does it)');
  pki = await makePki();
  upstream = await startPostgres({ setupSql: 'CREATE ROLE app LOGIN; CREATE DATABASE appdb OWNER app;' });
  app = await pki.client('app');
  dir = mkdtempSync(join(tmpdir(), 'pgmoat-ossl-'));
  chmodSync(dir, 0o700);
});
after(async () => {
  await upstream?.stop();
  pki?.cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function withGateway<T>(launcher: GatewayLauncher, fn: (port: number) => Promise<T>): Promise<T> {
  const port = await freePort();
  const configPath = writeConfig(dir, {
    listen: { host: '127.0.0.1', port },
    tls: clientTlsSection(pki),
    databases: { appdb: plainUpstream(upstream, 'appdb') },
  });
  const gw = await startGatewayProcess(configPath, launcher);
  try {
    return await fn(port);
  } finally {
    assert.equal(await gw.stop(), 0, gw.output());
  }
}

test('the pgmoat command sends one session ticket per full handshake, and that ticket resumes', async () => {
  await withGateway('bin', async (port) => {
    // resumableLogin rejects unless the login reaches ReadyForQuery.
    const first = await resumableLogin(port, app);
    assert.equal(first.tickets, 1);
    assert.equal(first.reused, false);
    const again = await resumableLogin(port, app, first.ticket);
    assert.equal(again.reused, true, 'the one ticket resumes the next connection');
  });
});

test('the same build under a bare node sends OpenSSL\'s default two tickets', async () => {
  await withGateway('dist', async (port) => {
    const first = await resumableLogin(port, app);
    assert.equal(first.tickets, 2);
  });
});

/** What bin/pgmoat hands to `node`: a stand-in `node` first on PATH prints its GLIBC_TUNABLES. */
function tunablesGivenToNode(operatorValue: string | undefined): string {
  const fakeBin = join(dir, 'fake-node-bin');
  mkdirSync(fakeBin, { recursive: true });
  writeFileSync(join(fakeBin, 'node'), '#!/bin/sh\nprintf "%s" "$GLIBC_TUNABLES"\n', { mode: 0o755 });
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${fakeBin}:${process.env.PATH ?? ''}` };
  delete env.GLIBC_TUNABLES;
  if (operatorValue !== undefined) env.GLIBC_TUNABLES = operatorValue;
  return execFileSync(join(ROOT, 'bin/pgmoat'), ['--version'], { env, encoding: 'utf8' });
}

test('the pgmoat command starts Node with bin/glibc-tunables, and an operator\'s own GLIBC_TUNABLES come after them (so they win)', () => {
  assert.equal(tunablesGivenToNode(undefined), 'glibc.malloc.mmap_threshold=65536');
  assert.equal(tunablesGivenToNode('glibc.malloc.mmap_threshold=131072'), 'glibc.malloc.mmap_threshold=65536:glibc.malloc.mmap_threshold=131072');
});
