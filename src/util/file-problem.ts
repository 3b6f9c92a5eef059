/**
 * What stopped a file from being read, for an error message: the errno a script greps for, then
 * what it means to a person (`ENOENT (no such file)`). One wording for every file pgmoat reads:
 * every FILE_UNREADABLE comes from here (unreadableFile, readTextFile, readFileBytes).
 */
import { readFileSync } from 'node:fs';
import { PgmoatError, errorMessage } from './errors.js';

const MEANINGS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied: the user running pgmoat cannot read it',
  EISDIR: 'a directory, not a file',
  ENOTDIR: 'a part of the path is not a directory',
  ELOOP: 'too many symbolic links',
};

export function fileProblem(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === undefined) return errorMessage(err);
  const meaning = MEANINGS[code];
  return meaning === undefined ? code : `${code} (${meaning})`;
}

/** FILE_UNREADABLE for `what` (the setting or the kind of file) at `path`. */
export function unreadableFile(what: string, path: string, err: unknown): PgmoatError {
  return new PgmoatError('FILE_UNREADABLE', `cannot read ${what} ${path}: ${fileProblem(err)}`, { cause: err });
}

/** A whole file as UTF-8 text, or FILE_UNREADABLE naming `what`. */
export function readTextFile(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw unreadableFile(what, path, err);
  }
}

/** A whole file as bytes, or FILE_UNREADABLE naming `what`. */
export function readFileBytes(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw unreadableFile(what, path, err);
  }
}
