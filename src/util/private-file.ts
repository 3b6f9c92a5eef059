import { statSync } from 'node:fs';
import { PgmoatError } from './errors.js';
import { readFileBytes, unreadableFile } from './file-problem.js';

/**
 * Reads a file that holds a secret (private key, passphrase, password). Like libpq, refuse it
 * when group or others can read it: a key that others can read is a key already leaked.
 */
export function readPrivateFile(path: string, what = 'private key'): Buffer {
  let mode: number;
  try {
    mode = statSync(path).mode;
  } catch (err) {
    throw unreadableFile(what, path, err);
  }
  if ((mode & 0o077) !== 0) {
    throw new PgmoatError(
      'KEY_PERMISSIONS',
      `${what} ${path} is readable by group or others (mode ${(mode & 0o777).toString(8).padStart(4, '0')}); run: chmod 600 ${path}`,
    );
  }
  return readFileBytes(path, what);
}

/** A one-line secret (passphrase or password file): the content without its trailing newline. */
export function readSecretFile(path: string, what = 'secret file'): string {
  return readPrivateFile(path, what).toString('utf8').replace(/\r?\n$/, '');
}
