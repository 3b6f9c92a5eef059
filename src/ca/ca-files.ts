/**
 * Creating a new CA directory's files, all or nothing: used by `pgmoat init` and `pgmoat ca adopt`.
 * The target must not hold a CA already; every file is written with O_EXCL, and when one write
 * fails, what was written (and a directory made for it) is removed again.
 */
import { chmodSync, existsSync, mkdirSync, readdirSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { PgmoatError } from '../util/errors.js';
import { fsyncDir, writeNewFile } from '../util/atomic-file.js';
import { CA_FILES, caPath, DIR_MODE, type CaFile } from './ca-layout.js';
import { LOCK_NAME } from './ca-lock.js';

/** One file of a new CA directory: layout name, contents, mode. */
export type NewCaFile = readonly [CaFile, string, number];

/** Refuses a target that is not a directory or already holds CA files. `command` names who asks. */
export function checkNewCaDir(dir: string, command: string): void {
  if (!existsSync(dir)) return;
  if (!statSync(dir).isDirectory()) throw new PgmoatError('NOT_A_DIRECTORY', `${dir} exists and is not a directory; choose another --dir`);
  const present = readdirSync(dir).filter((n) => (Object.values(CA_FILES) as string[]).includes(n) || n === LOCK_NAME);
  if (present.length > 0) {
    throw new PgmoatError(
      'CA_EXISTS',
      `${dir} already holds ${present.includes('ca.key') ? 'a CA' : present.join(', ')}; ${command} never overwrites a CA: choose another --dir`,
    );
  }
}

/** Writes `contents` into `dir` (made 0700); returns the paths by layout name. */
export function writeNewCaDir(dir: string, contents: readonly NewCaFile[], command: string): Partial<Record<CaFile, string>> {
  checkNewCaDir(dir, command); // key generation and parsing take a while: look again right before writing
  const previousMode = existsSync(dir) ? statSync(dir).mode & 0o777 : undefined;
  let createdDir: string | undefined;
  const written: string[] = [];
  try {
    if (previousMode === undefined) createdDir = mkdirSync(dir, { recursive: true, mode: DIR_MODE }) ?? dir;
    chmodSync(dir, DIR_MODE);
    for (const [file, text, mode] of contents) {
      const path = caPath(dir, file);
      writeNewFile(path, text, mode);
      written.push(path);
    }
    fsyncDir(dir);
  } catch (err) {
    for (const path of written) {
      try {
        unlinkSync(path);
      } catch {
        // keep removing the rest
      }
    }
    try {
      if (createdDir !== undefined) rmSync(createdDir, { recursive: true, force: true });
      else if (previousMode !== undefined) chmodSync(dir, previousMode);
    } catch {
      // leave what cannot be undone
    }
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EEXIST') throw new PgmoatError('CA_EXISTS', `${e.path ?? dir} appeared while ${command} was running; choose another --dir`, { cause: err });
    throw new PgmoatError('WRITE_FAILED', `cannot create CA in ${dir}: ${e.code ?? e.message}`, { cause: err });
  }
  return Object.fromEntries(contents.map(([file]) => [file, caPath(dir, file)])) as Partial<Record<CaFile, string>>;
}
