/**
 * TLS options for a long-running application whose certificate an agent renews in place
 * (`pgmoat agent`, cert-manager, Vault Agent, spiffe-helper): every new connection uses the
 * pair on disk now, live connections keep the one they started with.
 *
 * The options carry one `secureContext` (a getter) instead of cert/key/ca: node-postgres
 * copies the `ssl` object into tls.connect's options with Object.assign and postgres.js
 * spreads it, both once per connection, and a SecureContext is one consistent pair. Before
 * each connection the files are stat()ed; when one changed, the new set is read and checked
 * as sslFromEnv checks it. An agent replaces the certificate and the key one after the other,
 * so for a moment the two on disk do not belong together: a set that does not check out is
 * not taken, the last good one stays in use, and the next change (the other half arriving)
 * is tried again. Nothing is ever thrown at a connection after the first load.
 */
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { createSecureContext, type PeerCertificate, type SecureContext } from 'node:tls';
import { PgmoatClientError } from './errors.js';
import { loadClientMaterial, serverNameOptions, type ClientMaterial, type SslFromEnvOptions } from './ssl-from-env.js';
import { SOURCES, type Env } from './sources.js';

/** The certificate a FollowingSsl hands to new connections. */
export interface CertificateInUse {
  /** Lowercase hex, as `pgmoat list` prints it. */
  serial: string;
  notAfter: Date;
  fingerprint256: string;
}

export interface SslFollowingFilesOptions extends SslFromEnvOptions {
  /** A new pair was taken: called once per change, before the connection that uses it. */
  onChange?: (now: CertificateInUse, before: CertificateInUse) => void;
  /** A changed set on disk did not check out (mismatched pair, unparsable file, expired certificate); the last good pair stays in use. */
  onError?: (err: PgmoatClientError) => void;
}

/** Usable as node-postgres's and postgres.js's `ssl`, with verify-full semantics. */
export interface FollowingSsl {
  /** The pair on disk at the moment a connection starts (a getter: read by the client library per connection). */
  readonly secureContext: SecureContext;
  rejectUnauthorized: true;
  servername?: string;
  checkServerIdentity?: (hostname: string, cert: PeerCertificate) => Error | undefined;
  /** The certificate new connections use now (not enumerable: never copied into tls.connect's options). */
  readonly current: CertificateInUse;
  /** Looks at the files now; true when a new pair was taken (not enumerable). */
  refresh(): boolean;
}

/** What identifies a file's version without reading it: a rename changes ino, a rewrite mtime or size. */
function versionOf(path: string | undefined): string {
  if (path === undefined) return '';
  try {
    const st = statSync(path);
    return `${st.ino}:${st.size}:${st.mtimeMs}`;
  } catch (err) {
    return `missing:${(err as NodeJS.ErrnoException).code ?? 'error'}`;
  }
}

function inUse(m: ClientMaterial): CertificateInUse {
  return { serial: m.leaf.serialNumber.toLowerCase(), notAfter: new Date(m.leaf.validTo), fingerprint256: m.leaf.fingerprint256 };
}

function contextOf(m: ClientMaterial): SecureContext {
  return createSecureContext({
    cert: m.cert,
    key: m.key,
    ...(m.ca === 'system' ? {} : { ca: m.ca }),
    ...(m.passphrase === undefined ? {} : { passphrase: m.passphrase }),
    minVersion: 'TLSv1.2',
  });
}

/**
 * Like sslFromEnv, but the certificate and key (PGSSLCERT, PGSSLKEY) and a CA file
 * (PGSSLROOTCERT) are followed as they are replaced. The first load throws as sslFromEnv does;
 * later ones report through `onError` and keep the last good pair. The base64 variables hold
 * fixed values, so they are refused here (FOLLOW_NEEDS_FILES).
 */
export function sslFollowingFiles(env: Env = process.env, options: SslFollowingFilesOptions = {}): FollowingSsl {
  for (const s of [SOURCES.cert, SOURCES.key]) {
    const b64 = env[s.b64];
    if (b64 !== undefined && b64.trim() !== '') {
      throw new PgmoatClientError('FOLLOW_NEEDS_FILES', `${s.b64} is set: a value in a variable cannot be renewed in place; name the files with ${s.path} (use sslFromEnv for fixed values)`, {
        variable: s.b64,
      });
    }
  }
  // One file named twice (certificate and key together) is stat()ed once, so that one rename is one change.
  const named = [env[SOURCES.cert.path]?.trim(), env[SOURCES.key.path]?.trim(), env[SOURCES.ca.path]?.trim()].map((p) => (p === undefined || p === '' || p === 'system' ? undefined : resolve(p)));
  const paths = named.filter((p, i) => p !== undefined && named.indexOf(p) === i);
  const versions = (): string => paths.map(versionOf).join('|');

  let loaded = versions();
  let tried = loaded;
  let material = loadClientMaterial(env, options.now ?? new Date());
  let context = contextOf(material);

  const refresh = (): boolean => {
    const seen = versions();
    if (seen === loaded || seen === tried) return false;
    tried = seen;
    let next: ClientMaterial;
    try {
      next = loadClientMaterial(env, new Date());
    } catch (err) {
      if (err instanceof PgmoatClientError) options.onError?.(err);
      else options.onError?.(new PgmoatClientError('FILE_UNREADABLE', `the client material could not be read again: ${(err as Error).message}`, { cause: err }));
      return false;
    }
    // Files replaced between the stat and the read differ from `seen`: the next connection reloads.
    const before = inUse(material);
    context = contextOf(next);
    material = next;
    loaded = seen;
    options.onChange?.(inUse(next), before);
    return true;
  };

  const ssl = {
    get secureContext(): SecureContext {
      refresh();
      return context;
    },
    rejectUnauthorized: true as const,
    ...serverNameOptions(options),
  };
  Object.defineProperty(ssl, 'current', { get: () => inUse(material), enumerable: false });
  Object.defineProperty(ssl, 'refresh', { value: refresh, enumerable: false });
  return ssl as FollowingSsl;
}
