/**
 * The exclusive lock that serialises every read-modify-write of a CA directory (inventory, CRL,
 * server key). proper-lockfile uses an atomic mkdir and refreshes its mtime while held, so a
 * lock left by a killed process goes stale and is taken over.
 */
import lockfile from 'proper-lockfile';
import { join } from 'node:path';
import { PgmoatError } from '../util/errors.js';

export const LOCK_NAME = '.pgmoat.lock';
const STALE_MS = 5_000;

export interface HeldLock {
  /** Throws when the lock was lost (e.g. the process stalled past the stale limit). */
  assertHeld(): void;
}

export async function withCaLock<T>(dir: string, work: (lock: HeldLock) => Promise<T>): Promise<T> {
  let compromised: Error | undefined;
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(dir, {
      realpath: false,
      lockfilePath: join(dir, LOCK_NAME),
      stale: STALE_MS,
      // Enough patience for ten concurrent writers plus one lock left by a killed process.
      retries: { retries: 200, factor: 1.3, minTimeout: 10, maxTimeout: 200, randomize: true },
      onCompromised: (err) => {
        compromised = err;
      },
    });
  } catch (err) {
    throw new PgmoatError('CA_LOCKED', `cannot lock CA directory ${dir} (${(err as NodeJS.ErrnoException).code ?? 'error'}); is another pgmoat command stuck? retry in a few seconds`, { cause: err });
  }
  const held: HeldLock = {
    assertHeld() {
      if (compromised) throw new PgmoatError('CA_LOCK_LOST', `lost the lock on CA directory ${dir}; nothing was written, retry`, { cause: compromised });
    },
  };
  try {
    return await work(held);
  } finally {
    await release().catch(() => undefined);
  }
}
