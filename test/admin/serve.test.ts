/**
 * `pgmoat serve` as a real process: the admin HTTP listener comes up with it, SIGHUP and the
 * console's RELOAD are one reload (counted together), and SHUTDOWN ends the process cleanly.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { get } from 'node:http';
import { makePki, type Pki, type ClientFiles } from '../harness/cert-factory.js';
import { cleanupDir, startGatewayProcess, writeConfig } from '../harness/gateway.js';
import { freePort } from '../harness/free-port.js';
import { psql } from '../harness/psql.js';
import { clientTlsSection, waitFor } from '../gateway/helpers.js';
import { adminConn, parseMetrics, sample } from './helpers.js';

let pki: Pki;
let ops: ClientFiles;
let dir: string;

before(async () => {
  pki = await makePki();
  ops = await pki.client('ops');
  dir = mkdtempSync(join(tmpdir(), 'pgmoat-admin-serve-'));
  chmodSync(dir, 0o700);
});

after(() => {
  cleanupDir(dir);
  pki?.cleanup();
});

function fetchText(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    }).on('error', reject);
  });
}

test('serve: metrics listener, SIGHUP and RELOAD share one reload, SHUTDOWN exits 0', async () => {
  const port = await freePort();
  const httpPort = await freePort();
  const unused = await freePort();
  const configPath = writeConfig(dir, {
    listen: { host: '127.0.0.1', port },
    log: { level: 'info' },
    tls: clientTlsSection(pki),
    databases: { appdb: { host: '127.0.0.1', port: unused, tls: { mode: 'disable' } } },
    admin: { identities: ['ops'], http: { host: '127.0.0.1', port: httpPort } },
  });
  const gw = await startGatewayProcess(configPath);
  let exited: number | null | undefined;
  gw.proc.once('exit', (code) => (exited = code));
  try {
    await waitFor(async () => (await fetchText(httpPort, '/healthz').catch(() => ({ status: 0 }))).status === 200, 'the admin listener');
    assert.equal((await fetchText(httpPort, '/readyz')).status, 200);
    const reloads = async (): Promise<number | undefined> => sample(parseMetrics((await fetchText(httpPort, '/metrics')).body), 'pgmoat_config_reloads_total', { outcome: 'ok' });
    assert.equal(await reloads(), 0);

    gw.proc.kill('SIGHUP');
    await waitFor(async () => (await reloads()) === 1, 'the SIGHUP reload to be counted');

    const r = await psql(adminConn(port, ops), 'RELOAD');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await reloads(), 2);

    const s = await psql(adminConn(port, ops), 'SHUTDOWN');
    assert.equal(s.code, 0, s.stderr);
    await waitFor(() => exited !== undefined, 'pgmoat serve to exit');
    assert.equal(exited, 0, gw.output());
    assert.match(gw.output(), /"event":"shutdown","signal":"SHUTDOWN"/);
  } finally {
    await gw.stop();
  }
});
