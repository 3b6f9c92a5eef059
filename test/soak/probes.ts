/**
 * Short client connections of the soak: a session with a certificate (node-postgres), a login
 * that must be refused, and bytes that are not a PostgreSQL client at all.
 */
import { connect as netConnect } from 'node:net';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { CertPem } from './pki.js';

export interface Target {
  port: number;
  /** PEM of the CA that verifies the gateway's certificate. */
  gatewayCa: string;
}

function client(t: Target, user: string, database: string, cert: CertPem | undefined): pg.Client {
  // One ssl object per client: node-postgres hides `key` from a spread copy of it.
  const ssl = cert ? { cert: cert.cert, key: cert.key, ca: t.gatewayCa, servername: 'localhost' } : { ca: t.gatewayCa, servername: 'localhost' };
  const c = new pg.Client({ host: '127.0.0.1', port: t.port, user, database, ssl, connectionTimeoutMillis: 15_000 });
  return c;
}

/** A logged-in session that ran `probe` (`select 1`; SHOW VERSION in the admin console); the caller ends it. */
export async function openSession(t: Target, cert: CertPem, user = 'app', database = 'appdb'): Promise<pg.Client> {
  const c = client(t, user, database, cert);
  c.on('error', () => undefined);
  await c.connect();
  await c.query(database === 'pgmoat' ? 'SHOW VERSION' : 'select 1');
  return c;
}

/** Resolves with the refusal's message; rejects when the login (and a query) succeeded. */
export async function expectRefused(t: Target, cert: CertPem | undefined, user = 'app', database = 'appdb'): Promise<string> {
  const c = client(t, user, database, cert);
  c.on('error', () => undefined);
  try {
    await c.connect();
    await c.query('select 1');
  } catch (err) {
    await c.end().catch(() => undefined);
    return err instanceof Error ? err.message : String(err);
  }
  await c.end().catch(() => undefined);
  throw new Error('login succeeded where a refusal was expected');
}

/** Resolves once the session ends (the gateway closed it), or with false after `timeoutMs`. */
export function sessionEnds(c: pg.Client, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    const done = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    c.once('end', done);
    c.once('error', done);
    // An idle client only notices when it reads: a query makes it read.
    c.query('select 1').catch(done);
  });
}

/** Bytes that are not PostgreSQL (or an SSLRequest followed by plaintext); resolves when the gateway closes. */
export function rawProbe(t: Target, kind: 'garbage' | 'plaintext-after-sslrequest' | 'half-open'): Promise<void> {
  return new Promise((resolve) => {
    const s = netConnect({ host: '127.0.0.1', port: t.port });
    const timer = setTimeout(() => s.destroy(), 10_000);
    s.on('error', () => undefined);
    s.resume(); // read the FATAL and the end, or the socket never sees the close
    s.on('close', () => {
      clearTimeout(timer);
      resolve();
    });
    s.on('connect', () => {
      const sslRequest = Buffer.from([0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]);
      switch (kind) {
        case 'garbage':
          s.write(randomBytes(64));
          return;
        case 'plaintext-after-sslrequest':
          s.write(Buffer.concat([sslRequest, Buffer.from('\0\0\0\x08\0\x03\0\0', 'latin1')]));
          return;
        case 'half-open':
          s.write(sslRequest);
          s.once('data', () => s.destroy());
          return;
      }
    });
  });
}
