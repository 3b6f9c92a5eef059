/**
 * PostgreSQL's md5 password method. The stored form is 'md5' + md5hex(password + user);
 * on the wire the client sends 'md5' + md5hex(md5hex(password + user) + salt), with the
 * 4-byte salt from AuthenticationMD5Password.
 */
import { createHash } from 'node:crypto';
import { PgmoatError } from '../util/errors.js';
import { safeEqual } from './scram-common.js';

const MD5_STORED = /^md5[0-9a-f]{32}$/;

function md5hex(...parts: (string | Buffer)[]): string {
  const hash = createHash('md5');
  for (const part of parts) hash.update(part);
  return hash.digest('hex');
}

function checkSalt(salt: Buffer): void {
  if (salt.length !== 4) throw new PgmoatError('MD5_SALT_INVALID', `md5 salt must be 4 bytes, got ${salt.length}`);
}

/** True for the exact form PostgreSQL stores ('md5' and 32 lowercase hex digits). */
export function isMd5Hash(text: string): boolean {
  return MD5_STORED.test(text);
}

/** The stored form of a password, as `CREATE ROLE ... PASSWORD` with password_encryption=md5. */
export function md5StoredHash(user: string, password: string | Buffer): string {
  return 'md5' + md5hex(password, user);
}

/** What a client answers to AuthenticationMD5Password. */
export function md5Password(user: string, password: string | Buffer, salt: Buffer): string {
  return md5FromStoredHash(md5StoredHash(user, password), salt);
}

/** The same answer, from the stored 'md5...' hash instead of the password. */
export function md5FromStoredHash(storedMd5: string, salt: Buffer): string {
  if (!isMd5Hash(storedMd5)) throw new PgmoatError('MD5_HASH_INVALID', 'stored md5 hash is not "md5" followed by 32 hex digits');
  checkSalt(salt);
  return 'md5' + md5hex(storedMd5.slice(3), salt);
}

/**
 * Checks a client's md5 response in constant time. `stored` is either the 'md5...' hash or
 * the cleartext password (PostgreSQL's rule: text of the md5 form is taken as a hash).
 * An empty stored password never matches.
 */
export function verifyMd5Response(stored: string, user: string, salt: Buffer, response: string | Buffer): boolean {
  checkSalt(salt);
  if (stored === '') return false;
  const hash = isMd5Hash(stored) ? stored : md5StoredHash(user, stored);
  const expected = Buffer.from(md5FromStoredHash(hash, salt), 'utf8');
  const given = typeof response === 'string' ? Buffer.from(response, 'utf8') : response;
  return safeEqual(given, expected);
}
