/**
 * Shared pieces of the access tests: real clients (node-postgres, psql) that report how a login
 * ended, and the check that no secret a test used ever reached a log line.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import type { ClientFiles, Pki } from '../harness/cert-factory.js';
import type { RunningGateway } from '../harness/gateway.js';
import type { PgServer } from '../harness/postgres.js';

export interface Outcome {
  ok: boolean;
  /** SQLSTATE of the refusal (node-postgres `code`). */
  code?: string | undefined;
  severity?: string | undefined;
  message?: string | undefined;
  /** pgmoat's error code, from the ErrorResponse's routine field (node-postgres `routine`). */
  routine?: string | undefined;
  user?: string | undefined;
}

export interface PgLogin {
  user: string;
  database: string;
  cert?: ClientFiles | undefined;
  password?: string | undefined;
  /** Plain TCP (no TLS). */
  plain?: boolean;
  /** CA to verify pgmoat with, for a client without a certificate of its own. */
  caPath?: string;
}

export function pgConfig(port: number, o: PgLogin): pg.ClientConfig {
  return {
    host: '127.0.0.1',
    port,
    user: o.user,
    database: o.database,
    ...(o.password !== undefined ? { password: o.password } : {}),
    ssl: o.plain ? false : { ca: readFileSync(o.cert?.caPath ?? o.caPath!, 'utf8'), ...(o.cert ? { cert: o.cert.certPem, key: o.cert.keyPem } : {}) },
    connectionTimeoutMillis: 10_000,
  };
}

/** Logs in with node-postgres, runs `SELECT current_user`, and says how it went. */
export async function pgLogin(port: number, o: PgLogin): Promise<Outcome> {
  const client = new pg.Client(pgConfig(port, o));
  client.on('error', () => undefined);
  try {
    await client.connect();
    const r = await client.query<{ u: string }>('SELECT current_user AS u');
    return { ok: true, user: r.rows[0]!.u };
  } catch (err) {
    const e = err as { code?: string; severity?: string; message: string; routine?: string };
    return { ok: false, code: e.code, severity: e.severity, message: e.message, routine: e.routine };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** `routine`, when given: the pgmoat error code the client must read in the routine field. */
export function assertRefused(o: Outcome, code: string, message: string, routine?: string): void {
  assert.equal(o.ok, false, `expected a refusal, the login worked as ${o.user}`);
  assert.equal(o.code, code, `expected SQLSTATE ${code}, got ${o.code}: ${o.message}`);
  assert.equal(o.severity, 'FATAL');
  assert.equal(o.message, message);
  if (routine !== undefined) assert.equal(o.routine, routine, 'the pgmoat error code in the routine field');
}

export function assertLoggedIn(o: Outcome, user: string): void {
  assert.equal(o.ok, true, `login refused: ${o.code} ${o.message}`);
  assert.equal(o.user, user);
}

/** Everything secret a test used: passwords, private keys (whole PEM and base64 body lines). */
export function secretsOf(pki: Pki | undefined, clients: readonly ClientFiles[], passwords: readonly string[]): string[] {
  const out = new Set<string>();
  const addPem = (pem: string): void => {
    for (const line of pem.split('\n')) if (line.length >= 40 && !line.startsWith('-----')) out.add(line);
  };
  for (const c of clients) addPem(c.keyPem);
  if (pki) {
    addPem(pki.server.keyPem);
    addPem(readFileSync(`${pki.main.dir}/ca.key`, 'utf8'));
  }
  for (const p of passwords) if (p.length >= 6) out.add(p);
  return [...out];
}

/** Fails when any log line holds any of the secrets. */
export function assertNoSecrets(lines: readonly unknown[], secrets: readonly string[]): void {
  assert.ok(lines.length > 0, 'no log lines to check');
  const text = lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n');
  for (const s of secrets) assert.ok(!text.includes(s), `a secret (${s.slice(0, 4)}...) appears in the logs`);
}

export function events(gw: RunningGateway, event: string): Record<string, unknown>[] {
  return gw.logs().filter((l) => l.event === event);
}

export async function waitFor(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await check()) return;
    await sleep(20);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** A plain upstream database entry. */
export function upstreamDb(pgs: PgServer, dbname: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { host: '127.0.0.1', port: pgs.port, dbname, environment: 'production', tls: { mode: 'disable' }, ...extra };
}

export function tlsSection(pki: Pki, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { mode: 'verify-full', cert: pki.server.certPath, key: pki.server.keyPath, ca: pki.main.caPath, crl: pki.crlPath, ...extra };
}
