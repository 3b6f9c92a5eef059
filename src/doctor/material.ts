/**
 * Reads the TLS material the doctor is told to use: command-line files first, then the URI's
 * sslcert/sslkey/sslrootcert, then the environment of `pgmoat/client` (PGCLIENT_*_B64, then
 * PGSSLCERT/PGSSLKEY/PGSSLROOTCERT). Decoding and the checks reuse @pgmoat/client (packages/client), so the doctor
 * says exactly what sslFromEnv would say.
 */
import type { KeyObject, X509Certificate } from 'node:crypto';
import {
  checkClientCertificate,
  checkKeyMatches,
  loadPrivateKey,
  parseCertificates,
  PASSPHRASE_VARIABLE,
  PgmoatClientError,
  readMaterial,
  SOURCES,
  type Env,
  type Material,
  type SourceNames,
} from '@pgmoat/client/internal';

export interface MaterialOptions {
  /** File paths given on the command line (or in the URI). */
  cert?: string;
  key?: string;
  ca?: string;
  /** The key passphrase read from --key-passphrase-file; else PGCLIENT_KEY_PASSPHRASE. */
  passphrase?: string;
  env: Env;
}

type Item = 'cert' | 'key' | 'ca';

const FLAG: Record<Item, string> = { cert: '--cert', key: '--key', ca: '--ca' };

/** Where one item comes from, or undefined when nothing names it. */
interface Source {
  env: Env;
  names: SourceNames;
  /** The file path, when it is a file. */
  path: string | undefined;
}

function present(v: string | undefined): v is string {
  return v !== undefined && v.trim() !== '';
}

function sourceOf(item: Item, opts: MaterialOptions): Source | undefined {
  const given = opts[item];
  if (present(given)) {
    // A one-entry environment named after the flag, so that messages say "--key (/path)".
    const flag = FLAG[item];
    return { env: { [flag]: given }, names: { b64: `${flag}-b64`, path: flag }, path: given.trim() };
  }
  const names = SOURCES[item];
  if (present(opts.env[names.b64])) return { env: opts.env, names, path: undefined };
  if (present(opts.env[names.path])) return { env: opts.env, names, path: opts.env[names.path]!.trim() };
  return undefined;
}

export type CaMaterial =
  | { kind: 'file'; pem: string; certs: X509Certificate[]; origin: string }
  /** PGSSLROOTCERT=system (or --ca system): the platform's store. */
  | { kind: 'system' }
  | { kind: 'none' };

/** The CA the gateway's certificate must chain to. Throws PgmoatClientError when it is unreadable or not PEM. */
export function loadCa(opts: MaterialOptions): CaMaterial {
  const src = sourceOf('ca', opts);
  if (!src) return { kind: 'none' };
  if (src.path === 'system') return { kind: 'system' };
  const m = readMaterial(src.env, src.names, 'CA certificate that signed the gateway', false);
  const certs = parseCertificates(m, 'CA certificate that signed the gateway');
  return { kind: 'file', pem: certs.map((c) => c.toString()).join(''), certs, origin: m.origin };
}

/** A CA bundle named only on the command line (--client-ca). */
export function loadCaFile(path: string, flag: string, what: string): CaMaterial {
  const m = readMaterial({ [flag]: path }, { b64: `${flag}-b64`, path: flag }, what, false);
  const certs = parseCertificates(m, what);
  return { kind: 'file', pem: certs.map((c) => c.toString()).join(''), certs, origin: m.origin };
}

export interface ClientMaterial {
  /** Leaf first, then any intermediates from the same file. */
  certs: X509Certificate[];
  certOrigin: string;
  keyPem: string;
  key: KeyObject;
  passphrase: string | undefined;
  keyOrigin: string;
  keyPath: string | undefined;
}

export type ClientLoad =
  | { kind: 'none' }
  | { kind: 'loaded'; material: ClientMaterial }
  | {
      kind: 'error';
      error: PgmoatClientError;
      /** Parsed before the failure, when the certificate itself was fine. */
      certs: X509Certificate[] | undefined;
      certPath: string | undefined;
      keyPath: string | undefined;
    };

function toClientError(err: unknown): PgmoatClientError {
  if (err instanceof PgmoatClientError) return err;
  return new PgmoatClientError('INVALID_CERTIFICATE', (err as Error).message ?? String(err), { cause: err });
}

/**
 * Reads and checks the client certificate and key in the order a person fixes them: the
 * certificate (parse, validity window, clientAuth), then the key file (permissions, passphrase),
 * then whether the two belong together.
 */
export function loadClient(opts: MaterialOptions, now: Date): ClientLoad {
  const certSrc = sourceOf('cert', opts);
  const keySrc = sourceOf('key', opts);
  if (!certSrc && !keySrc) return { kind: 'none' };
  let certs: X509Certificate[] | undefined;
  const failed = (err: unknown): ClientLoad => ({
    kind: 'error',
    error: toClientError(err),
    certs,
    certPath: certSrc?.path,
    keyPath: keySrc?.path,
  });
  if (!certSrc) {
    return failed(new PgmoatClientError('MISSING_VARIABLE', 'a private key is given but no client certificate (--cert, or PGCLIENT_CERT_B64 / PGSSLCERT)'));
  }
  if (!keySrc) {
    return failed(new PgmoatClientError('MISSING_VARIABLE', 'a client certificate is given but no private key (--key, or PGCLIENT_KEY_B64 / PGSSLKEY)'));
  }
  try {
    const certM: Material = readMaterial(certSrc.env, certSrc.names, 'client certificate', false);
    certs = parseCertificates(certM, 'client certificate');
    const leaf = certs[0]!;
    checkClientCertificate(leaf, certM, now);
    const keyM = readMaterial(keySrc.env, keySrc.names, 'client private key', true);
    const raw = opts.passphrase ?? opts.env[PASSPHRASE_VARIABLE];
    const passphrase = raw === undefined || raw === '' ? undefined : raw.replace(/\r?\n$/, '');
    const passphraseSource = opts.passphrase !== undefined ? '--key-passphrase-file' : PASSPHRASE_VARIABLE;
    const key = loadPrivateKey(keyM, passphrase, passphraseSource);
    checkKeyMatches(leaf, key.key, certM.origin, keyM);
    return {
      kind: 'loaded',
      material: {
        certs,
        certOrigin: certM.origin,
        keyPem: key.pem,
        key: key.key,
        passphrase: key.encrypted ? passphrase : undefined,
        keyOrigin: keyM.origin,
        keyPath: keySrc.path,
      },
    };
  } catch (err) {
    return failed(err);
  }
}
