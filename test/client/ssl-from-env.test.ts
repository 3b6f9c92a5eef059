import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { chmodSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makePki, type ClientFiles, type Pki } from '../harness/cert-factory.js';
import { PgmoatClientError, sslFromEnv, type ClientErrorCode } from '@pgmoat/client';

const b64 = (pem: string): string => Buffer.from(pem, 'utf8').toString('base64');

let pki: Pki;
let alice: ClientFiles;
let bob: ClientFiles;
let env: Record<string, string>;

before(async () => {
  pki = await makePki();
  alice = await pki.client('alice');
  bob = await pki.client('bob');
  env = { PGCLIENT_CERT_B64: b64(alice.certPem), PGCLIENT_KEY_B64: b64(alice.keyPem), PGCLIENT_CA_B64: b64(pki.main.caPem) };
});
after(() => pki?.cleanup());

/** Runs sslFromEnv and returns its error, checking the code and that no secret leaked into the text. */
function failure(e: Record<string, string | undefined>, code: ClientErrorCode, options = {}): PgmoatClientError {
  try {
    sslFromEnv(e, options);
  } catch (err) {
    assert.ok(err instanceof PgmoatClientError, `expected PgmoatClientError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    const body = (pem: string): string => pem.split('\n')[1] ?? pem;
    for (const secret of [alice.keyPem, bob.keyPem].map(body)) assert.ok(!err.message.includes(secret), 'key material in the message');
    const pass = e.PGCLIENT_KEY_PASSPHRASE;
    if (pass) assert.ok(!err.message.includes(pass), 'passphrase in the message');
    return err;
  }
  assert.fail(`expected ${code}`);
}

function encrypt(keyPem: string, passphrase: string, type: 'pkcs8' | 'sec1' = 'pkcs8'): string {
  return createPrivateKey(keyPem).export({ format: 'pem', type, cipher: 'aes-256-cbc', passphrase }) as string;
}

describe('sslFromEnv: the good path', () => {
  it('returns verify-full options from the base64 variables', () => {
    const ssl = sslFromEnv(env);
    assert.equal(ssl.rejectUnauthorized, true);
    assert.equal(new X509Certificate(ssl.cert).fingerprint256, new X509Certificate(alice.certPem).fingerprint256);
    assert.equal(new X509Certificate(ssl.ca!).fingerprint256, new X509Certificate(pki.main.caPem).fingerprint256);
    assert.match(ssl.key, /^-----BEGIN PRIVATE KEY-----\n/);
    assert.equal(ssl.passphrase, undefined);
    assert.equal(ssl.servername, undefined);
    assert.equal(ssl.checkServerIdentity, undefined);
  });

  it('tolerates wrapped base64, spaces, surrounding whitespace and quotes, literal \\n, URL-safe alphabet', () => {
    const wrapped = (pem: string): string => b64(pem).replace(/(.{76})/g, '$1\n');
    const variants: Array<Record<string, string>> = [
      { ...env, PGCLIENT_CERT_B64: wrapped(alice.certPem), PGCLIENT_KEY_B64: wrapped(alice.keyPem).replace(/\n/g, '\r\n') },
      { ...env, PGCLIENT_CERT_B64: `  "${b64(alice.certPem)}"\n`, PGCLIENT_KEY_B64: `'${b64(alice.keyPem)}'` },
      { ...env, PGCLIENT_CERT_B64: b64(alice.certPem).replace(/(.{10})/g, '$1 '), PGCLIENT_CA_B64: `\t${b64(pki.main.caPem)}\t` },
      { ...env, PGCLIENT_KEY_B64: wrapped(alice.keyPem).replace(/\n/g, '\\n') },
      { ...env, PGCLIENT_CERT_B64: Buffer.from(alice.certPem).toString('base64url') },
      // Some people paste the PEM itself, newlines escaped by their platform.
      { ...env, PGCLIENT_CERT_B64: alice.certPem.replace(/\n/g, '\\n'), PGCLIENT_CA_B64: pki.main.caPem },
    ];
    for (const v of variants) {
      const ssl = sslFromEnv(v);
      assert.equal(new X509Certificate(ssl.cert).serialNumber.toLowerCase(), alice.serial);
    }
  });

  it('falls back to PGSSLCERT / PGSSLKEY / PGSSLROOTCERT files', () => {
    const ssl = sslFromEnv({ PGSSLCERT: alice.certPath, PGSSLKEY: alice.keyPath, PGSSLROOTCERT: pki.main.caPath });
    assert.equal(new X509Certificate(ssl.cert).serialNumber.toLowerCase(), alice.serial);
    // The base64 variable wins over the path when both are set.
    const mixed = sslFromEnv({ ...env, PGSSLCERT: bob.certPath, PGSSLKEY: bob.keyPath });
    assert.equal(new X509Certificate(mixed.cert).serialNumber.toLowerCase(), alice.serial);
  });

  it('uses the platform trust store for PGSSLROOTCERT=system, as libpq does', () => {
    const ssl = sslFromEnv({ PGCLIENT_CERT_B64: env.PGCLIENT_CERT_B64!, PGCLIENT_KEY_B64: env.PGCLIENT_KEY_B64!, PGSSLROOTCERT: 'system' });
    assert.equal(ssl.ca, undefined);
    assert.equal(ssl.rejectUnauthorized, true);
  });

  it('passes an encrypted key on with its passphrase', () => {
    for (const type of ['pkcs8', 'sec1'] as const) {
      const encrypted = encrypt(alice.keyPem, 'correct horse', type);
      const ssl = sslFromEnv({ ...env, PGCLIENT_KEY_B64: b64(encrypted), PGCLIENT_KEY_PASSPHRASE: 'correct horse' });
      assert.equal(ssl.passphrase, 'correct horse');
      assert.match(ssl.key, /ENCRYPTED/);
    }
  });

  it('pins the gateway name given as servername', () => {
    const ssl = sslFromEnv(env, { servername: 'localhost' });
    assert.equal(ssl.servername, 'localhost');
    const server = new X509Certificate(pki.server.certPem);
    const peer = { subject: { CN: 'localhost' }, subjectaltname: server.subjectAltName } as unknown as import('node:tls').PeerCertificate;
    assert.equal(ssl.checkServerIdentity!('10.9.8.7', peer), undefined);
    assert.ok(sslFromEnv(env, { servername: 'db.example.com' }).checkServerIdentity!('localhost', peer) instanceof Error);
  });

  it('the package imports nothing but node: built-ins and its own files, and declares no runtime dependency', () => {
    const manifest = JSON.parse(readFileSync(new URL('../../packages/client/package.json', import.meta.url), 'utf8')) as Record<string, unknown>;
    for (const field of ['dependencies', 'peerDependencies', 'optionalDependencies', 'bundleDependencies']) assert.equal(manifest[field], undefined, `packages/client/package.json has ${field}`);
    const dir = new URL('../../packages/client/src/', import.meta.url).pathname;
    let seen = 0;
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))) {
      const source = readFileSync(join(dir, file), 'utf8');
      // Statements at the start of a line (doc comments start with " * ") and dynamic imports.
      for (const m of source.matchAll(/^(?:import|export)\s[^;]*?\sfrom\s*'([^']+)'|^import\s*'([^']+)'|\bimport\(\s*'([^']+)'/gm)) {
        const spec = (m[1] ?? m[2] ?? m[3])!;
        seen += 1;
        assert.ok(spec.startsWith('node:') || /^\.\/[a-z0-9-]+\.js$/.test(spec), `${file} imports ${spec}`);
      }
    }
    assert.ok(seen >= 8, `the scan found only ${seen} imports`);
  });
});

describe('sslFromEnv: clear errors', () => {
  it('names a missing variable and its fallback', () => {
    const { PGCLIENT_KEY_B64: _k, ...noKey } = env;
    const err = failure(noKey, 'MISSING_VARIABLE');
    assert.equal(err.variable, 'PGCLIENT_KEY_B64');
    assert.match(err.message, /PGCLIENT_KEY_B64 is not set \(nor PGSSLKEY\)/);
    const { PGCLIENT_CA_B64: _c, ...noCa } = env;
    assert.match(failure(noCa, 'MISSING_VARIABLE').message, /PGCLIENT_CA_B64 is not set \(nor PGSSLROOTCERT\)/);
  });

  it('lists every missing variable at once, and treats blank as missing', () => {
    const err = failure({ PGCLIENT_CERT_B64: '  ' }, 'MISSING_VARIABLE');
    assert.equal(err.variable, 'PGCLIENT_CERT_B64');
    for (const name of ['PGCLIENT_CERT_B64', 'PGCLIENT_KEY_B64', 'PGCLIENT_CA_B64']) assert.match(err.message, new RegExp(name));
  });

  it('refuses invalid base64', () => {
    const err = failure({ ...env, PGCLIENT_CERT_B64: 'not*base64!' }, 'INVALID_BASE64');
    assert.equal(err.variable, 'PGCLIENT_CERT_B64');
    assert.match(err.message, /PGCLIENT_CERT_B64 is not valid base64/);
    failure({ ...env, PGCLIENT_CA_B64: 'abcde' }, 'INVALID_BASE64');
  });

  it('refuses base64 of something that is not PEM, and PEM of the wrong kind', () => {
    assert.match(failure({ ...env, PGCLIENT_CA_B64: b64('hello world') }, 'NOT_PEM').message, /PGCLIENT_CA_B64 decodes to something that is not PEM/);
    assert.match(failure({ ...env, PGCLIENT_KEY_B64: b64(alice.certPem) }, 'NOT_PEM').message, /PGCLIENT_KEY_B64 holds no PEM private key/);
    assert.match(failure({ ...env, PGCLIENT_CERT_B64: b64(alice.keyPem) }, 'NOT_PEM').message, /PGCLIENT_CERT_B64 holds no PEM certificate/);
  });

  it('refuses a certificate that does not parse', () => {
    const broken = '-----BEGIN CERTIFICATE-----\nMIIBAAAA\n-----END CERTIFICATE-----\n';
    assert.match(failure({ ...env, PGCLIENT_CERT_B64: b64(broken) }, 'INVALID_CERTIFICATE').message, /PGCLIENT_CERT_B64: certificate 1 does not parse/);
    failure({ ...env, PGCLIENT_KEY_B64: b64('-----BEGIN PRIVATE KEY-----\nMIIBAAAA\n-----END PRIVATE KEY-----\n') }, 'INVALID_KEY');
  });

  it('refuses a key that belongs to another certificate', () => {
    const err = failure({ ...env, PGCLIENT_KEY_B64: b64(bob.keyPem) }, 'KEY_MISMATCH');
    assert.match(err.message, /private key from PGCLIENT_KEY_B64 does not match the certificate from PGCLIENT_CERT_B64 \(CN=alice\)/);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
    failure({ ...env, PGCLIENT_KEY_B64: b64(rsa) }, 'KEY_MISMATCH');
  });

  it('refuses an expired certificate and says when it expired', async () => {
    const old = await pki.client('old', { expired: true });
    const err = failure({ ...env, PGCLIENT_CERT_B64: b64(old.certPem), PGCLIENT_KEY_B64: b64(old.keyPem) }, 'CERT_EXPIRED');
    const notAfter = new Date(new X509Certificate(old.certPem).validTo).toISOString();
    assert.match(err.message, new RegExp(`CN=old, serial ${old.serial}\\) from PGCLIENT_CERT_B64 expired on ${notAfter.replace(/\./g, '\\.')}`));
  });

  it('refuses a certificate that is not valid yet and says from when', async () => {
    const early = await pki.client('early', { notYetValid: true });
    const err = failure({ ...env, PGCLIENT_CERT_B64: b64(early.certPem), PGCLIENT_KEY_B64: b64(early.keyPem) }, 'CERT_NOT_YET_VALID');
    assert.match(err.message, new RegExp(`is not valid until ${new Date(new X509Certificate(early.certPem).validFrom).toISOString().replace(/\./g, '\\.')}`));
    // ...and accepts it once the time comes.
    assert.doesNotThrow(() =>
      sslFromEnv({ ...env, PGCLIENT_CERT_B64: b64(early.certPem), PGCLIENT_KEY_B64: b64(early.keyPem) }, { now: new Date(Date.now() + 2 * 86_400_000) }),
    );
  });

  it('refuses a certificate that is not for client use', async () => {
    const srv = await pki.client('srv', { serverAuthOnly: true });
    failure({ ...env, PGCLIENT_CERT_B64: b64(srv.certPem), PGCLIENT_KEY_B64: b64(srv.keyPem) }, 'CERT_NOT_FOR_CLIENT');
  });

  it('asks for the passphrase of an encrypted key', () => {
    for (const type of ['pkcs8', 'sec1'] as const) {
      const err = failure({ ...env, PGCLIENT_KEY_B64: b64(encrypt(alice.keyPem, 's3cret', type)) }, 'PASSPHRASE_REQUIRED');
      assert.equal(err.variable, 'PGCLIENT_KEY_PASSPHRASE');
      assert.match(err.message, /is encrypted: set PGCLIENT_KEY_PASSPHRASE/);
    }
  });

  it('says when the passphrase is wrong, without echoing it', () => {
    for (const type of ['pkcs8', 'sec1'] as const) {
      const err = failure(
        { ...env, PGCLIENT_KEY_B64: b64(encrypt(alice.keyPem, 's3cret', type)), PGCLIENT_KEY_PASSPHRASE: 'not-the-passphrase' },
        'WRONG_PASSPHRASE',
      );
      assert.match(err.message, /PGCLIENT_KEY_PASSPHRASE does not decrypt the private key from PGCLIENT_KEY_B64/);
    }
  });

  it('refuses a key file that others can read', () => {
    const loose = join(pki.dir, 'loose.key');
    writeFileSync(loose, alice.keyPem);
    chmodSync(loose, 0o644);
    const err = failure({ PGSSLCERT: alice.certPath, PGSSLKEY: loose, PGSSLROOTCERT: pki.main.caPath }, 'KEY_PERMISSIONS');
    assert.equal(err.variable, 'PGSSLKEY');
    assert.match(err.message, /loose\.key \(PGSSLKEY\) is readable by group or others \(mode 0644\); run: chmod 600 /);
    chmodSync(loose, 0o600);
    assert.doesNotThrow(() => sslFromEnv({ PGSSLCERT: alice.certPath, PGSSLKEY: loose, PGSSLROOTCERT: pki.main.caPath }));
  });

  it('says which file it cannot read', () => {
    const err = failure({ ...env, PGCLIENT_CA_B64: undefined, PGSSLROOTCERT: join(pki.dir, 'nope.crt') }, 'FILE_UNREADABLE');
    assert.match(err.message, /nope\.crt named by PGSSLROOTCERT: ENOENT/);
    failure({ ...env, PGCLIENT_CA_B64: '', PGSSLROOTCERT: pki.dir }, 'FILE_UNREADABLE');
  });
});
