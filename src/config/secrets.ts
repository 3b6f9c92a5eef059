/** The upstream password of a database, read when a server connection needs it (never cached here). */
import { PgmoatError } from '../util/errors.js';
import { readSecretFile } from '../util/private-file.js';
import type { DatabaseConfig } from './schema.js';

/**
 * password_file (refused when group/other-readable) or the variable named by password_env;
 * undefined when neither is set. Errors name the file or variable, never the value.
 */
export function resolvePassword(
  db: Pick<DatabaseConfig, 'name' | 'password_file' | 'password_env'>,
  env: Readonly<Record<string, string | undefined>> = process.env,
): string | undefined {
  if (db.password_file !== undefined) return readSecretFile(db.password_file, 'password file');
  if (db.password_env !== undefined) {
    const value = env[db.password_env];
    if (value === undefined || value === '') {
      throw new PgmoatError(
        'PASSWORD_MISSING',
        `environment variable ${db.password_env} (databases.${db.name}.password_env) is ${value === undefined ? 'not set' : 'empty'}`,
      );
    }
    return value;
  }
  return undefined;
}
