/**
 * Crash-safe file replacement: write a temp file beside the target, fsync it, rename it over the
 * target, fsync the directory. A reader (or a process killed half-way) sees the old or the new
 * file, never a torn one.
 */
import { closeSync, fchmodSync, fsyncSync, openSync, readdirSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';

const TEMP_SUFFIX = '.tmp';

function tempPathFor(path: string): string {
  return `${path}.${process.pid}-${randomBytes(4).toString('hex')}${TEMP_SUFFIX}`;
}

function writeAll(fd: number, data: Uint8Array): void {
  let off = 0;
  while (off < data.length) off += writeSync(fd, data, off, data.length - off);
}

export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Some file systems refuse fsync on a directory; the rename itself is still atomic.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Writes a fresh file that must not exist yet (O_EXCL), with its mode set exactly, then fsyncs it. */
export function writeNewFile(path: string, data: string | Uint8Array, mode: number): void {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  const fd = openSync(path, 'wx', mode);
  try {
    fchmodSync(fd, mode); // the umask must not loosen or tighten what we asked for
    writeAll(fd, bytes);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Replaces `path` atomically with `data` at `mode`. */
export function writeFileAtomic(path: string, data: string | Uint8Array, mode: number, opts: { syncDir?: boolean } = {}): void {
  const tmp = tempPathFor(path);
  try {
    writeNewFile(tmp, data, mode);
    renameSync(tmp, path);
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {
      // already renamed or never created
    }
    throw err;
  }
  if (opts.syncDir !== false) fsyncDir(dirname(path));
}

/** Removes temp files a killed writer left behind for `path`. Call only while holding the lock. */
export function removeStaleTemps(path: string): void {
  const dir = dirname(path);
  const prefix = `${basename(path)}.`;
  for (const name of readdirSync(dir)) {
    if (name.startsWith(prefix) && name.endsWith(TEMP_SUFFIX)) {
      try {
        unlinkSync(join(dir, name));
      } catch {
        // gone already
      }
    }
  }
}
