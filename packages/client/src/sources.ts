/**
 * Where each piece of TLS material comes from: the base64 variable first (what deployment
 * platforms can hold), then libpq's file-path variable (what a laptop has).
 */
import { readFileSync, statSync } from 'node:fs';
import { PgmoatClientError } from './errors.js';
import { decodeB64Pem } from './pem.js';

export type Env = Readonly<Record<string, string | undefined>>;

export interface Material {
  /** PEM text. */
  text: string;
  /** What to name in messages: the variable, or "PGSSLKEY (/path/to/key)". */
  origin: string;
  /** The variable it came from. */
  variable: string;
}

export interface SourceNames {
  b64: string;
  path: string;
}

export const SOURCES = {
  cert: { b64: 'PGCLIENT_CERT_B64', path: 'PGSSLCERT' },
  key: { b64: 'PGCLIENT_KEY_B64', path: 'PGSSLKEY' },
  ca: { b64: 'PGCLIENT_CA_B64', path: 'PGSSLROOTCERT' },
} as const satisfies Record<string, SourceNames>;

export const PASSPHRASE_VARIABLE = 'PGCLIENT_KEY_PASSPHRASE';

function present(value: string | undefined): value is string {
  return value !== undefined && value.trim() !== '';
}

function readPemFile(path: string, variable: string, what: string, secret: boolean): string {
  let mode: number;
  try {
    const st = statSync(path);
    if (!st.isFile()) throw Object.assign(new Error('not a file'), { code: 'EISDIR' });
    mode = st.mode;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new PgmoatClientError('FILE_UNREADABLE', `cannot read the ${what} file ${path} named by ${variable}: ${code}`, { variable, cause: err });
  }
  // libpq refuses a key others can read; so do we, with the fix in the message.
  if (secret && (mode & 0o077) !== 0) {
    const octal = (mode & 0o777).toString(8).padStart(4, '0');
    throw new PgmoatClientError(
      'KEY_PERMISSIONS',
      `the private key file ${path} (${variable}) is readable by group or others (mode ${octal}); run: chmod 600 ${path}`,
      { variable },
    );
  }
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new PgmoatClientError('FILE_UNREADABLE', `cannot read the ${what} file ${path} named by ${variable}: ${code}`, { variable, cause: err });
  }
}

/** The material for one item, or a MISSING_VARIABLE error naming both places looked at. */
export function readMaterial(env: Env, names: SourceNames, what: string, secret: boolean): Material {
  const b64 = env[names.b64];
  if (present(b64)) return { text: decodeB64Pem(b64, names.b64), origin: names.b64, variable: names.b64 };
  const path = env[names.path];
  if (present(path)) {
    const p = path.trim();
    return { text: readPemFile(p, names.path, what, secret), origin: `${names.path} (${p})`, variable: names.path };
  }
  throw new PgmoatClientError(
    'MISSING_VARIABLE',
    `${names.b64} is not set (nor ${names.path}): the ${what} is needed ("pgmoat export --format env" prints all three)`,
    { variable: names.b64 },
  );
}
