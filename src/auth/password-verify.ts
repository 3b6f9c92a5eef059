/**
 * Checking a cleartext password (the `password` method, or a password typed by an operator)
 * against any stored form, as PostgreSQL's plain_crypt_verify does. Every comparison is
 * constant-time; an empty stored or given password never matches (PostgreSQL refuses
 * empty passwords).
 */
import { md5StoredHash } from './md5.js';
import { safeEqual, sha256 } from './scram-common.js';
import { scramSecretMatchesPassword } from './scram-secret.js';
import type { UserSecret } from './userlist.js';
import { assertNever } from '../util/errors.js';

export function verifyCleartextPassword(stored: UserSecret, user: string, password: string): boolean {
  if (password === '' || stored.value === '') return false;
  switch (stored.kind) {
    case 'plain':
      // Digests first, so the comparison does not reveal the stored password's length.
      return safeEqual(sha256(Buffer.from(password, 'utf8')), sha256(Buffer.from(stored.value, 'utf8')));
    case 'md5':
      return safeEqual(Buffer.from(md5StoredHash(user, password)), Buffer.from(stored.value));
    case 'scram':
      return scramSecretMatchesPassword(stored.secret, password);
    default:
      return assertNever(stored, 'stored secret kind');
  }
}

/** Which client authentication exchanges a stored form can serve. */
export function methodsForSecret(stored: UserSecret): readonly ('scram-sha-256' | 'md5' | 'password')[] {
  switch (stored.kind) {
    case 'plain':
      return ['scram-sha-256', 'md5', 'password'];
    case 'md5':
      return ['md5', 'password'];
    case 'scram':
      return ['scram-sha-256', 'password'];
    default:
      return assertNever(stored, 'stored secret kind');
  }
}
