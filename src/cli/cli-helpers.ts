/** Small pieces the CA commands share: option parsers, secret files, output. */
import { PgmoatError } from '../util/errors.js';
import { readSecretFile } from '../util/private-file.js';
import { readFileBytes } from '../util/file-problem.js';

/** commander collector for repeatable options (--host a --host b). */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

export function readPassphrase(file: string | undefined, what: string): string | undefined {
  if (file === undefined) return undefined;
  const passphrase = readSecretFile(file, what);
  if (passphrase.length === 0) throw new PgmoatError('EMPTY_PASSPHRASE', `${what} ${file} is empty; put the passphrase in it`);
  return passphrase;
}

export function readInputFile(path: string, what: string): Buffer {
  return readFileBytes(path, what);
}

export function choice<T extends string>(value: string, allowed: readonly T[], option: string): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new PgmoatError('USAGE', `invalid ${option} ${JSON.stringify(value)}: use one of ${allowed.join(', ')}`);
}

export function print(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

export function note(text: string): void {
  process.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
}

export function day(iso: string | Date): string {
  return (typeof iso === 'string' ? iso : iso.toISOString()).slice(0, 10);
}

/** Day and minute in UTC (2026-05-01 14:03 UTC): what a lifetime in hours needs. */
export function when(iso: string | Date): string {
  const t = typeof iso === 'string' ? iso : iso.toISOString();
  return `${t.slice(0, 10)} ${t.slice(11, 16)} UTC`;
}
