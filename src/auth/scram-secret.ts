/**
 * PostgreSQL's stored SCRAM-SHA-256 verifier (pg_authid.rolpassword, PgBouncer userlists):
 * `SCRAM-SHA-256$<iterations>:<salt b64>$<StoredKey b64>:<ServerKey b64>`.
 * Parse errors say which part is wrong, never what it contained.
 */
import { randomBytes } from 'node:crypto';
import { PgmoatError } from '../util/errors.js';
import { scramPasswordBytes } from './saslprep.js';
import {
  SCRAM_DEFAULT_ITERATIONS,
  SCRAM_DEFAULT_SALT_LEN,
  SCRAM_KEY_LEN,
  SCRAM_MAX_ITERATIONS,
  SCRAM_SHA_256,
  decodeBase64,
  keysFromSaltedPassword,
  safeEqual,
  saltedPassword,
  saltedPasswordAsync,
} from './scram-common.js';

export interface ScramSecret {
  iterations: number;
  salt: Buffer;
  storedKey: Buffer;
  serverKey: Buffer;
}

export interface MakeScramSecretOptions {
  iterations?: number;
  /** Default: 16 random bytes, as PostgreSQL. */
  salt?: Buffer;
}

const PREFIX = `${SCRAM_SHA_256}$`;

function invalid(what: string): PgmoatError {
  return new PgmoatError('SCRAM_SECRET_INVALID', `malformed SCRAM secret: ${what}`);
}

/** True when the text starts like a SCRAM verifier (whether or not the rest is valid). */
export function looksLikeScramSecret(text: string): boolean {
  return text.startsWith(PREFIX);
}

export function parseScramSecret(text: string): ScramSecret {
  if (!text.startsWith(PREFIX)) throw invalid(`it does not start with "${PREFIX}"`);
  const parts = text.slice(PREFIX.length).split('$');
  if (parts.length !== 2) throw invalid('expected "<iterations>:<salt>$<StoredKey>:<ServerKey>"');
  const [iterSalt, keys] = parts as [string, string];
  const iterSaltParts = iterSalt.split(':');
  const keyParts = keys.split(':');
  if (iterSaltParts.length !== 2) throw invalid('expected "<iterations>:<salt>" after the prefix');
  if (keyParts.length !== 2) throw invalid('expected "<StoredKey>:<ServerKey>" after the salt');
  const [iterText, saltText] = iterSaltParts as [string, string];
  if (!/^[1-9][0-9]{0,9}$/.test(iterText) || Number(iterText) > 0x7fffffff) {
    throw invalid('the iteration count is not a positive integer');
  }
  const salt = decodeBase64(saltText);
  if (salt === undefined || salt.length === 0) throw invalid('the salt is not valid base64');
  const storedKey = decodeBase64(keyParts[0]!);
  if (storedKey === undefined || storedKey.length !== SCRAM_KEY_LEN) {
    throw invalid(`the StoredKey is not ${SCRAM_KEY_LEN} bytes of base64`);
  }
  const serverKey = decodeBase64(keyParts[1]!);
  if (serverKey === undefined || serverKey.length !== SCRAM_KEY_LEN) {
    throw invalid(`the ServerKey is not ${SCRAM_KEY_LEN} bytes of base64`);
  }
  return { iterations: Number(iterText), salt, storedKey, serverKey };
}

export function tryParseScramSecret(text: string): ScramSecret | undefined {
  try {
    return parseScramSecret(text);
  } catch {
    return undefined;
  }
}

export function formatScramSecret(secret: ScramSecret): string {
  const b64 = (b: Buffer): string => b.toString('base64');
  return `${PREFIX}${secret.iterations}:${b64(secret.salt)}$${b64(secret.storedKey)}:${b64(secret.serverKey)}`;
}

function checkOptions(options: MakeScramSecretOptions): { iterations: number; salt: Buffer } {
  const iterations = options.iterations ?? SCRAM_DEFAULT_ITERATIONS;
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > SCRAM_MAX_ITERATIONS) {
    throw new PgmoatError('SCRAM_SECRET_INVALID', `SCRAM iteration count must be an integer from 1 to ${SCRAM_MAX_ITERATIONS}`);
  }
  const salt = options.salt ?? randomBytes(SCRAM_DEFAULT_SALT_LEN);
  if (salt.length === 0) throw new PgmoatError('SCRAM_SECRET_INVALID', 'SCRAM salt must not be empty');
  return { iterations, salt };
}

/** The verifier PostgreSQL would store for this password (same SASLprep, same layout). */
export function scramSecretFromPassword(password: string | Buffer, options: MakeScramSecretOptions = {}): ScramSecret {
  const { iterations, salt } = checkOptions(options);
  const keys = keysFromSaltedPassword(saltedPassword(scramPasswordBytes(password), salt, iterations));
  return { iterations, salt, storedKey: keys.storedKey, serverKey: keys.serverKey };
}

export async function scramSecretFromPasswordAsync(
  password: string | Buffer,
  options: MakeScramSecretOptions = {},
): Promise<ScramSecret> {
  const { iterations, salt } = checkOptions(options);
  const keys = keysFromSaltedPassword(await saltedPasswordAsync(scramPasswordBytes(password), salt, iterations));
  return { iterations, salt, storedKey: keys.storedKey, serverKey: keys.serverKey };
}

/** `SCRAM-SHA-256$...` text for a password, as `CREATE ROLE ... PASSWORD` stores it. */
export function makeScramSecret(password: string | Buffer, options: MakeScramSecretOptions = {}): string {
  return formatScramSecret(scramSecretFromPassword(password, options));
}

/**
 * Whether a cleartext password (the `password` auth method) matches a verifier, as
 * PostgreSQL's scram_verify_plain_password: derive with the stored salt and iterations
 * and compare both keys in constant time.
 */
export function scramSecretMatchesPassword(secret: ScramSecret, password: string | Buffer): boolean {
  const derived = scramSecretFromPassword(password, { iterations: secret.iterations, salt: secret.salt });
  const storedOk = safeEqual(derived.storedKey, secret.storedKey);
  const serverOk = safeEqual(derived.serverKey, secret.serverKey);
  return storedOk && serverOk;
}
