/**
 * Reads a pgbouncer.ini and the files it `%include`s into one ordered list of settings, each
 * with the section it falls in and the file and line it came from. As in PgBouncer, the
 * current section carries into an included file and back out of it.
 *
 * A relative include path is resolved against the directory of the including file, which is
 * what people mean when they keep the pieces side by side (PgBouncer itself resolves it
 * against its working directory, which for a daemon is rarely where the file is).
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { PgmoatError } from '../util/errors.js';
import { parseIni } from './ini.js';

/** Where a setting was written: the file as the user knows it, and the 1-based line. */
export interface Origin {
  file: string;
  line: number;
}

export interface IniSetting {
  /** Lower-cased section name; '' before the first section header. */
  section: string;
  key: string;
  value: string;
  origin: Origin;
}

export interface IniSection {
  name: string;
  origin: Origin;
}

export interface LoadedIni {
  settings: IniSetting[];
  /** Every section header met, in order (for sections pgmoat has no counterpart for). */
  sections: IniSection[];
  /** The files read, by label, in the order they were opened. */
  files: string[];
}

/** Include nesting PgBouncer allows before it gives up (libusual's limit). */
const MAX_INCLUDE_DEPTH = 10;

export type ReadText = (absolutePath: string) => string;

const readUtf8: ReadText = (p) => readFileSync(p, 'utf8');

function readOrThrow(read: ReadText, abs: string, label: string, from: Origin | undefined): string {
  try {
    return read(abs);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    const where = from ? `${from.file}:${from.line}: %include ` : '';
    throw new PgmoatError('PGBOUNCER_INI_UNREADABLE', `${where}cannot read ${label}: ${code}`, { cause: err });
  }
}

/** Reads `path` (and its includes). Throws PgmoatError with a file:line for any syntax error. */
export function loadIni(path: string, read: ReadText = readUtf8): LoadedIni {
  const out: LoadedIni = { settings: [], sections: [], files: [] };
  let section = '';
  const visit = (label: string, abs: string, stack: string[], from: Origin | undefined): void => {
    if (stack.includes(abs)) {
      throw new PgmoatError('PGBOUNCER_INI_INVALID', `${from!.file}:${from!.line}: %include ${label} includes itself (through ${stack.length - stack.indexOf(abs)} file(s))`);
    }
    if (stack.length > MAX_INCLUDE_DEPTH) {
      throw new PgmoatError('PGBOUNCER_INI_INVALID', `${from!.file}:${from!.line}: %include nested more than ${MAX_INCLUDE_DEPTH} deep`);
    }
    const text = readOrThrow(read, abs, label, from);
    out.files.push(label);
    for (const item of parseIni(text, label)) {
      const origin = { file: label, line: item.line };
      switch (item.kind) {
        case 'section':
          section = item.name.toLowerCase();
          out.sections.push({ name: item.name, origin });
          break;
        case 'setting':
          out.settings.push({ section, key: item.key, value: item.value, origin });
          break;
        case 'include': {
          const childLabel = isAbsolute(item.path) ? item.path : join(dirname(label), item.path);
          visit(childLabel, resolve(dirname(abs), item.path), [...stack, abs], origin);
          break;
        }
      }
    }
  };
  visit(path, resolve(path), [], undefined);
  return out;
}
