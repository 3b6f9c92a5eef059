/**
 * sslFromEnv against a real PostgreSQL that demands a client certificate
 * (`hostssl all all 127.0.0.1/32 cert clientcert=verify-full`), through node-postgres and
 * postgres.js, as an application would use it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey } from 'node:crypto';
import pg from 'pg';
import postgres from 'postgres';
import { makePki, type ClientFiles, type Pki } from '../harness/cert-factory.js';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { sslFromEnv, type ClientSslOptions } from '@pgmoat/client';

const b64 = (pem: string): string => Buffer.from(pem, 'utf8').toString('base64');

let pki: Pki;
let server: PgServer;
let alice: ClientFiles;
let env: Record<string, string>;

before(async () => {
  pki = await makePki();
  alice = await pki.client('alice');
  env = { PGCLIENT_CERT_B64: b64(alice.certPem), PGCLIENT_KEY_B64: b64(alice.keyPem), PGCLIENT_CA_B64: b64(pki.main.caPem) };
  server = await startPostgres({
    ssl: { cert: pki.server.certPem, key: pki.server.keyPem, ca: pki.main.caPem },
    hba: 'local all all trust\nhostssl all all 127.0.0.1/32 cert clientcert=verify-full\n',
    setupSql: 'CREATE ROLE alice LOGIN',
  });
});

after(async () => {
  await server?.stop();
  pki?.cleanup();
});

const WHO = 'SELECT current_user AS who, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()';

async function withPg(ssl: ClientSslOptions): Promise<{ who: string; ssl: boolean }> {
  const client = new pg.Client({ host: '127.0.0.1', port: server.port, user: 'alice', database: 'postgres', ssl });
  client.on('error', () => {}); // a refused handshake also surfaces as an 'error' event
  try {
    await client.connect();
    const r = await client.query<{ who: string; ssl: boolean }>(WHO);
    return r.rows[0]!;
  } finally {
    await client.end().catch(() => {});
  }
}

async function withPostgresJs(ssl: ClientSslOptions): Promise<{ who: string; ssl: boolean }> {
  const sql = postgres({ host: '127.0.0.1', port: server.port, user: 'alice', database: 'postgres', ssl, max: 1, connect_timeout: 10, onnotice: () => {} });
  try {
    const rows = await sql<{ who: string; ssl: boolean }[]>`SELECT current_user AS who, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()`;
    return { who: rows[0]!.who, ssl: rows[0]!.ssl };
  } finally {
    await sql.end({ timeout: 5 });
  }
}

describe('sslFromEnv with real clients and a PostgreSQL requiring client certificates', () => {
  it('connects with node-postgres', async () => {
    assert.deepEqual(await withPg(sslFromEnv(env)), { who: 'alice', ssl: true });
  });

  it('connects with postgres.js', async () => {
    assert.deepEqual(await withPostgresJs(sslFromEnv(env)), { who: 'alice', ssl: true });
  });

  it('connects with an encrypted key and its passphrase, through both clients', async () => {
    const encrypted = createPrivateKey(alice.keyPem).export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: 'pw 123' }) as string;
    const encEnv = { ...env, PGCLIENT_KEY_B64: b64(encrypted), PGCLIENT_KEY_PASSPHRASE: 'pw 123' };
    // One object per library: node-postgres makes `key` non-enumerable on the object it is given,
    // so postgres.js (which copies with Object.assign) would then send no client certificate.
    assert.equal((await withPg(sslFromEnv(encEnv))).who, 'alice');
    assert.equal((await withPostgresJs(sslFromEnv(encEnv))).who, 'alice');
  });

  it('connects from the PGSSL* file variables', async () => {
    const ssl = sslFromEnv({ PGSSLCERT: alice.certPath, PGSSLKEY: alice.keyPath, PGSSLROOTCERT: pki.main.caPath });
    assert.equal((await withPg(ssl)).who, 'alice');
  });

  it('refuses a server whose certificate does not chain to the given CA', async () => {
    const foreignEnv = { ...env, PGCLIENT_CA_B64: b64(pki.foreign.caPem) };
    await assert.rejects(withPg(sslFromEnv(foreignEnv)), /self-signed certificate in certificate chain|unable to get local issuer certificate/);
    await assert.rejects(withPostgresJs(sslFromEnv(foreignEnv)), /self-signed certificate in certificate chain|unable to get local issuer certificate/);
  });

  it('verifies the hostname (verify-full): a certificate for another name is refused', async () => {
    await assert.rejects(withPg(sslFromEnv(env, { servername: 'db.example.com' })), /db\.example\.com/);
    await assert.rejects(withPostgresJs(sslFromEnv(env, { servername: 'db.example.com' })), /db\.example\.com/);
    // ...and the right name is accepted even when dialling an IP.
    assert.equal((await withPg(sslFromEnv(env, { servername: 'localhost' }))).who, 'alice');
  });
});
