/**
 * What stopped a file from being read, for an error message: the errno a script greps for, then
 * what it means to a person (`ENOENT (no such file)`). One wording for every file pgmoat reads.
 */
import { errorMessage } from './errors.js';

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
