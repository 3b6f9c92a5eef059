/**
 * TLS options for node-postgres (`ssl`) and postgres.js (`ssl`) from the environment a
 * deployment platform provides, checked before the first connection so that a bad variable
 * fails with its name instead of an opaque handshake error.
 */
import type { X509Certificate } from 'node:crypto';
import { checkServerIdentity as nodeCheckServerIdentity, type PeerCertificate } from 'node:tls';
import { PgmoatClientError } from './errors.js';
import { resolve } from 'node:path';
import { PASSPHRASE_VARIABLE, readMaterial, SOURCES, type Env, type Material, type SourceNames } from './sources.js';
import { checkClientCertificate, checkKeyMatches, loadPrivateKey, parseCertificates } from './verify.js';

export interface SslFromEnvOptions {
  /**
   * The name the gateway's certificate must carry when it differs from the host you dial
   * (a tunnel, an IP). It is both sent as SNI and used for the hostname check.
   */
  servername?: string;
  /** The instant certificate validity is checked against. Default: now. */
  now?: Date;
}

/** Options usable as-is as node-postgres's and postgres.js's `ssl`, with verify-full semantics. */
export interface ClientSslOptions {
  /** The client certificate (and any intermediates), PEM. */
  cert: string;
  /** The client private key, PEM (encrypted when `passphrase` is set). */
  key: string;
  /** The CA bundle the gateway's certificate must chain to; absent with PGSSLROOTCERT=system. */
  ca?: string;
  passphrase?: string;
  /** Always true: an unverified gateway is never accepted. */
  rejectUnauthorized: true;
  servername?: string;
  /** Set with `servername`: checks the gateway's certificate against that name instead of the host dialled. */
  checkServerIdentity?: (hostname: string, cert: PeerCertificate) => Error | undefined;
}

function collectMissing<T>(missing: string[], read: () => T): T | undefined {
  try {
    return read();
  } catch (err) {
    if (err instanceof PgmoatClientError && err.code === 'MISSING_VARIABLE') {
      missing.push(err.message.replace(/ \("pgmoat export.*$/, ''));
      return undefined;
    }
    throw err;
  }
}

/** The absolute path a file variable names when its base64 twin is unset, else undefined. */
function fileOf(env: Env, names: SourceNames): string | undefined {
  const b64 = env[names.b64];
  const path = env[names.path]?.trim();
  if ((b64 !== undefined && b64.trim() !== '') || path === undefined || path === '') return undefined;
  return resolve(path);
}

function readCa(env: Env): Material | 'system' {
  const b64 = env[SOURCES.ca.b64];
  const path = env[SOURCES.ca.path];
  // libpq's sslrootcert=system: trust the platform's store instead of a given CA.
  if ((b64 === undefined || b64.trim() === '') && path?.trim() === 'system') return 'system';
  return readMaterial(env, SOURCES.ca, 'CA certificate that signed the gateway', false);
}

/** Checked client material, as PEM: what either function below builds its options from. */
export interface ClientMaterial {
  /** The client certificate and any intermediates, PEM. */
  cert: string;
  key: string;
  ca: string | 'system';
  /** Set only when the key is encrypted. */
  passphrase: string | undefined;
  /** The leaf certificate (serial, notAfter, fingerprint for whoever reports a change). */
  leaf: X509Certificate;
}

/**
 * Reads and checks the material the environment names (see sslFromEnv), as it is at this moment.
 * Throws PgmoatClientError with a stable `code` when anything is off.
 */
export function loadClientMaterial(env: Env, now: Date): ClientMaterial {
  const missing: string[] = [];
  // One file for both (the chain then the key, as `pgmoat agent --cert F --key F` writes it) is
  // read once: two reads could straddle a renewal's rename and pair an old certificate with a new key.
  const certFile = fileOf(env, SOURCES.cert);
  let certM: Material | undefined;
  let keyM: Material | undefined;
  if (certFile !== undefined && certFile === fileOf(env, SOURCES.key)) {
    keyM = readMaterial(env, SOURCES.key, 'client private key', true);
    certM = { ...keyM, origin: `${SOURCES.cert.path} (${env[SOURCES.cert.path]!.trim()})`, variable: SOURCES.cert.path };
  } else {
    certM = collectMissing(missing, () => readMaterial(env, SOURCES.cert, 'client certificate', false));
    keyM = collectMissing(missing, () => readMaterial(env, SOURCES.key, 'client private key', true));
  }
  const caM = collectMissing(missing, () => readCa(env));
  if (!certM || !keyM || !caM) {
    const first = [SOURCES.cert, SOURCES.key, SOURCES.ca].find((s) => missing.some((m) => m.startsWith(s.b64)));
    throw new PgmoatClientError('MISSING_VARIABLE', `${missing.join('; ')} ("pgmoat export --format env" prints all three)`, {
      variable: first?.b64,
    });
  }

  const certs = parseCertificates(certM, 'client certificate');
  const leaf = certs[0]!;
  checkClientCertificate(leaf, certM, now);

  const rawPassphrase = env[PASSPHRASE_VARIABLE];
  const passphrase = rawPassphrase === undefined || rawPassphrase === '' ? undefined : rawPassphrase.replace(/\r?\n$/, '');
  const key = loadPrivateKey(keyM, passphrase, PASSPHRASE_VARIABLE);
  checkKeyMatches(leaf, key.key, certM.origin, keyM);
  return {
    cert: certs.map((c) => c.toString()).join(''),
    key: key.pem,
    ca: caM === 'system' ? 'system' : parseCertificates(caM, 'CA certificate that signed the gateway').map((c) => c.toString()).join(''),
    passphrase: key.encrypted ? passphrase : undefined,
    leaf,
  };
}

/** servername and the check that pins it, shared by both kinds of options. */
export function serverNameOptions(options: SslFromEnvOptions): Pick<ClientSslOptions, 'servername' | 'checkServerIdentity'> {
  if (options.servername === undefined) return {};
  const name = options.servername;
  // node-postgres replaces `servername` with the host it dials, so the check pins the name itself.
  return { servername: name, checkServerIdentity: (_hostname, cert) => nodeCheckServerIdentity(name, cert) };
}

/**
 * Reads PGCLIENT_CERT_B64 / PGCLIENT_KEY_B64 / PGCLIENT_CA_B64 (base64 of PEM), falling back to
 * PGSSLCERT / PGSSLKEY / PGSSLROOTCERT (file paths), and PGCLIENT_KEY_PASSPHRASE for an
 * encrypted key. Throws PgmoatClientError with a stable `code` when anything is off. The
 * material is read once: for files that an agent renews, see sslFollowingFiles.
 */
export function sslFromEnv(env: Env = process.env, options: SslFromEnvOptions = {}): ClientSslOptions {
  const m = loadClientMaterial(env, options.now ?? new Date());
  const result: ClientSslOptions = { cert: m.cert, key: m.key, rejectUnauthorized: true, ...serverNameOptions(options) };
  if (m.ca !== 'system') result.ca = m.ca;
  if (m.passphrase !== undefined) result.passphrase = m.passphrase;
  return result;
}
