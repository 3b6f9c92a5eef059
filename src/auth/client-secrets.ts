/**
 * The secrets clients prove they know, by role: from a PgBouncer userlist.txt (`auth_file`)
 * and optionally from an auth_query run upstream. A cleartext entry is turned once, when the
 * file is loaded, into the two forms the exchanges need (a SCRAM verifier and PostgreSQL's
 * md5 hash), and the cleartext is not kept.
 */
import { createHmac } from 'node:crypto';
import { md5StoredHash } from './md5.js';
import { SCRAM_DEFAULT_ITERATIONS, SCRAM_DEFAULT_SALT_LEN } from './scram-common.js';
import { scramSecretFromPasswordAsync, type ScramSecret } from './scram-secret.js';
import type { UserSecret } from './userlist.js';

export interface ClientSecret {
  /** A SCRAM-SHA-256 verifier, when the stored form allows the SCRAM exchange. */
  readonly scram: ScramSecret | undefined;
  /** PostgreSQL's 'md5' + md5hex(password + role), when the stored form allows md5. */
  readonly md5: string | undefined;
}

/** Looks up a role's secret; undefined for a role that has none (the caller runs a mock exchange). */
export type SecretLookup = (role: string) => Promise<ClientSecret | undefined>;

/**
 * The salt given to a verifier derived from a cleartext entry: fixed per role and per gateway
 * key, like the mock salt of an unknown role, so neither kind changes across restarts and the
 * two cannot be told apart by watching salts.
 */
function derivedSalt(mockKey: Buffer, role: string): Buffer {
  return createHmac('sha256', mockKey).update(`pgmoat scram plain salt\0${role}`).digest().subarray(0, SCRAM_DEFAULT_SALT_LEN);
}

export async function clientSecretFrom(role: string, stored: UserSecret, mockKey: Buffer): Promise<ClientSecret> {
  switch (stored.kind) {
    case 'scram':
      return { scram: stored.secret, md5: undefined };
    case 'md5':
      return { scram: undefined, md5: stored.value };
    case 'plain': {
      // PostgreSQL refuses empty passwords; an empty entry can never be satisfied.
      if (stored.value === '') return { scram: undefined, md5: undefined };
      const scram = await scramSecretFromPasswordAsync(stored.value, { iterations: SCRAM_DEFAULT_ITERATIONS, salt: derivedSalt(mockKey, role) });
      return { scram, md5: md5StoredHash(role, stored.value) };
    }
  }
}

/** Every entry of a parsed userlist, derived once. */
export async function deriveUserlist(users: ReadonlyMap<string, UserSecret>, mockKey: Buffer): Promise<Map<string, ClientSecret>> {
  const out = new Map<string, ClientSecret>();
  for (const [role, stored] of users) out.set(role, await clientSecretFrom(role, stored, mockKey));
  return out;
}
