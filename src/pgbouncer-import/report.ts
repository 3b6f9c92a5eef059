/**
 * What the import tells the person running it, besides the YAML: one line per setting that
 * could not be carried over (`pgbouncer.ini:12: logfile: not carried over: ...`), notes on
 * settings carried over with a change of meaning, and the environment variables to set.
 * Lines never hold a password.
 */
import type { Origin } from './ini-files.js';

export type NoteKind = 'not-carried' | 'note';

export interface ImportNote {
  kind: NoteKind;
  /** Undefined for remarks about the file as a whole. */
  origin: Origin | undefined;
  setting: string;
  message: string;
  /** pgmoat will refuse to load the output until this is fixed (a file it refuses, a missing file). */
  blocks: boolean;
}

/** A password that now comes from the environment: the variable and where the value was. */
export interface PasswordVariable {
  name: string;
  database: string;
  origin: Origin;
  /** Where the person finds the value (the line of pgbouncer.ini or the userlist). */
  source: string;
}

export class ImportReport {
  readonly notes: ImportNote[] = [];
  readonly passwords: PasswordVariable[] = [];

  notCarried(origin: Origin | undefined, setting: string, why: string): void {
    this.notes.push({ kind: 'not-carried', origin, setting, message: why, blocks: false });
  }

  note(origin: Origin | undefined, setting: string, message: string): void {
    this.notes.push({ kind: 'note', origin, setting, message, blocks: false });
  }

  /** A note about something pgmoat will refuse when it loads the output. */
  blocker(origin: Origin | undefined, setting: string, message: string): void {
    this.notes.push({ kind: 'note', origin, setting, message, blocks: true });
  }

  /** Notes in file order (files in the order they were read, then line), file-wide ones first. */
  sorted(files: readonly string[]): ImportNote[] {
    const fileRank = new Map<string, number>(files.map((f, i) => [f, i]));
    for (const n of this.notes) if (n.origin && !fileRank.has(n.origin.file)) fileRank.set(n.origin.file, fileRank.size);
    const rank = (n: ImportNote): [number, number] => (n.origin ? [fileRank.get(n.origin.file)! + 1, n.origin.line] : [0, 0]);
    return this.notes
      .map((n, i) => ({ n, i }))
      .sort((a, b) => {
        const [fa, la] = rank(a.n);
        const [fb, lb] = rank(b.n);
        return fa - fb || la - lb || a.i - b.i;
      })
      .map(({ n }) => n);
  }
}

export function formatNote(n: ImportNote, mainFile: string): string {
  const where = n.origin ? `${n.origin.file}:${n.origin.line}` : mainFile;
  const text = n.kind === 'not-carried' ? `not carried over: ${n.message}` : n.message;
  return `${where}: ${n.setting}: ${text}`;
}

export function where(origin: Origin): string {
  return `${origin.file}:${origin.line}`;
}
