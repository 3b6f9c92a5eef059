/** Shared pieces of the renewal service tests: a listener over a test PKI, curl, openssl CSRs. */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { Writable } from 'node:stream';
import pino from 'pino';
import { makePki, type Pki } from '../harness/cert-factory.js';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { startGateway, type RunningGateway } from '../harness/gateway.js';
import { RenewalService } from '../../src/ca/renewal.js';
import { RenewalServer, type RenewalOutcome } from '../../src/renewal/renewal-server.js';
import { normalizeSerial } from '../../src/util/serial.js';
import { readInventory } from '../../src/ca/inventory.js';

export interface RunningRenewal {
  server: RenewalServer;
  url: string;
  /** Audit and other log lines so far. */
  lines: Record<string, unknown>[];
  outcomes: Array<[RenewalOutcome, string]>;
}

export async function startRenewal(pki: Pki, opts: { graceMs?: number; max?: number } = {}): Promise<RunningRenewal> {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _e, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  const outcomes: Array<[RenewalOutcome, string]> = [];
  const server = await RenewalServer.start({
    host: '127.0.0.1',
    port: 0,
    cert: pki.server.certPem,
    key: pki.server.keyPem,
    service: new RenewalService(pki.main.authority, { expiredGraceMs: opts.graceMs ?? 0 }),
    rateLimit: { max: opts.max ?? 1000, windowMs: 3_600_000 },
    log: pino({ level: 'debug', base: undefined }, sink),
    onOutcome: (o, r) => outcomes.push([o, r]),
  });
  return { server, url: `https://localhost:${server.address().port}`, lines, outcomes };
}

export function workDir(): string {
  return mkdtempSync(join(tmpdir(), 'pgmoat-renewal-'));
}

/** A new EC key and a CSR for it made by openssl; `extra` are more `openssl req` arguments (-addext ...). */
export function opensslCsr(dir: string, name: string, subject: string, extra: readonly string[] = []): { csrPath: string; keyPath: string } {
  const csrPath = join(dir, `${name}.csr`);
  const keyPath = join(dir, `${name}.key`);
  const r = spawnSync(
    'openssl',
    ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyPath, '-subj', subject, '-out', csrPath, ...extra],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`openssl req failed: ${r.stderr}`);
  return { csrPath, keyPath };
}

/** A CSR for the key of an existing key file. */
export function opensslCsrForKey(dir: string, name: string, keyPath: string, subject: string): string {
  const csrPath = join(dir, `${name}.csr`);
  const r = spawnSync('openssl', ['req', '-new', '-key', keyPath, '-subj', subject, '-out', csrPath], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl req failed: ${r.stderr}`);
  return csrPath;
}

export interface CurlAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** curl's own exit status (non-zero when TLS or the connection failed). */
  exit: number | null;
  stderr: string;
}

/**
 * curl as an independent client: `--cert --key --cacert --data-binary @csr`. Asynchronous: the
 * service may run in this very process, and a synchronous child would block its event loop.
 */
export async function curl(url: string, opts: { cert?: string; key?: string; cacert: string; dataFile?: string; headers?: string[]; method?: string }): Promise<CurlAnswer> {
  const args = ['-sS', '-i', '--cacert', opts.cacert];
  if (opts.cert) args.push('--cert', opts.cert);
  if (opts.key) args.push('--key', opts.key);
  if (opts.dataFile) args.push('--data-binary', `@${opts.dataFile}`);
  if (opts.method) args.push('-X', opts.method);
  for (const h of opts.headers ?? []) args.push('-H', h);
  args.push(url);
  const child = spawn('curl', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const exit = await new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const split = out.indexOf('\r\n\r\n');
  const head = split >= 0 ? out.slice(0, split) : out;
  const body = split >= 0 ? out.slice(split + 4) : '';
  const [statusLine, ...headerLines] = head.split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of headerLines) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
  }
  return { status: Number(/HTTP\/[\d.]+ (\d+)/.exec(statusLine ?? '')?.[1] ?? 0), headers, body, exit, stderr };
}

export function serialOf(pem: string): string {
  return normalizeSerial(new X509Certificate(pem).serialNumber);
}

export function inventorySerials(dir: string): string[] {
  return readInventory(dir).certificates.map((c) => c.serial);
}

export function readText(path: string): string {
  return readFileSync(path, 'utf8');
}

/** What the end-to-end renewal tests run against: PostgreSQL, a gateway in verify-full, a renewal service. */
export interface RenewalStack {
  pki: Pki;
  upstream: PgServer;
  gw: RunningGateway;
  svc: RunningRenewal;
  /** A directory of this test file's own, for application hosts' files. */
  work: string;
}

/** PostgreSQL with role app and database appdb (environment production), the gateway in front of it trusting the test PKI and its CRL, and a renewal service of the same CA. */
export async function startRenewalStack(): Promise<RenewalStack> {
  const pki = await makePki();
  const upstream = await startPostgres({ setupSql: 'CREATE ROLE app LOGIN; CREATE DATABASE appdb OWNER app;' });
  const gw = await startGateway({
    tls: { mode: 'verify-full', cert: pki.server.certPath, key: pki.server.keyPath, ca: pki.main.caPath, crl: pki.crlPath },
    databases: { appdb: { host: '127.0.0.1', port: upstream.port, dbname: 'appdb', environment: 'production', pool_size: 2, tls: { mode: 'disable' } } },
  });
  const svc = await startRenewal(pki);
  return { pki, upstream, gw, svc, work: workDir() };
}

export async function stopRenewalStack(s: RenewalStack | undefined): Promise<void> {
  await s?.svc.server.close();
  await s?.gw.stop();
  await s?.upstream.stop();
  s?.pki.cleanup();
}
