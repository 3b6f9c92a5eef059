/**
 * DIR/store.json: the CA directory's record of the PostgreSQL store that holds its inventory.
 * `{"version":1,"url":"postgres://…","password_file":"…"}`. Written atomically (mode 0600: the
 * URL may carry a password) by pgmoat ca migrate; when present, inventory.json is not read.
 */
import { existsSync } from 'node:fs';
import { z } from 'zod';
import { writeFileAtomic } from '../util/atomic-file.js';
import { isPostgresUrl, POSTGRES_URL_EXAMPLE, redactUrl } from '../util/redact-url.js';
import { PgmoatError } from '../util/errors.js';
import { readTextFile } from '../util/file-problem.js';
import { caPath, PRIVATE_MODE } from './ca-layout.js';

const pointerSchema = z.object({
  version: z.literal(1),
  url: z.string().min(1),
  password_file: z.string().min(1).optional(),
});

export type StorePointer = z.infer<typeof pointerSchema>;

export { redactUrl };

/** Checks a store URL given on the command line: postgres:// or postgresql:// only. */
export function checkStoreUrl(url: string, option: string): string {
  if (!isPostgresUrl(url)) {
    throw new PgmoatError('STORE_URL_INVALID', `${option} must be a postgres:// URL (e.g. ${POSTGRES_URL_EXAMPLE}), not ${JSON.stringify(redactUrl(url))}`);
  }
  return url;
}

/** The store the directory records, or undefined when its inventory is inventory.json. */
export function readStorePointer(dir: string): StorePointer | undefined {
  const path = caPath(dir, 'storePointer');
  if (!existsSync(path)) return undefined;
  const text = readTextFile(path, 'store pointer');
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new PgmoatError('STORE_POINTER_INVALID', `${path} is not valid JSON; it records where the CA's inventory lives (pgmoat ca migrate writes it)`, { cause: err });
  }
  const parsed = pointerSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new PgmoatError('STORE_POINTER_INVALID', `${path} is damaged (${issue ? issue.path.join('.') || 'top level' : 'top level'}: ${issue?.message ?? 'invalid'})`);
  }
  return parsed.data;
}

export function writeStorePointer(dir: string, pointer: StorePointer): void {
  writeFileAtomic(caPath(dir, 'storePointer'), JSON.stringify(pointer, null, 2) + '\n', PRIVATE_MODE);
}
