/**
 * The CA's profile defaults (DIR/defaults.json): the lifetime of client and server certificates
 * when a command gives neither --days nor --lifetime. Written by `pgmoat init`; a CA directory
 * without the file (made by an older pgmoat) uses the built-in defaults.
 */
import { existsSync, readFileSync } from 'node:fs';
import { z } from 'zod';
import { PgmoatError } from '../util/errors.js';
import { caPath } from './ca-layout.js';
import { lifetimeOfDays, parseLifetime, type Lifetime } from './lifetime.js';

export const DEFAULT_CLIENT_DAYS = 90;
/** Server certificates live longer than client ones: renewing them means touching the gateway host. */
export const DEFAULT_SERVER_DAYS = 825;

const defaultsSchema = z.object({
  version: z.literal(1),
  /** A lifetime such as "24h" (see lifetime.ts). */
  clientLifetime: z.string().optional(),
  serverLifetime: z.string().optional(),
});

export interface CaDefaults {
  client: Lifetime;
  server: Lifetime;
}

export const BUILT_IN_DEFAULTS: CaDefaults = { client: lifetimeOfDays(DEFAULT_CLIENT_DAYS), server: lifetimeOfDays(DEFAULT_SERVER_DAYS) };

export function serializeDefaults(d: CaDefaults): string {
  return JSON.stringify({ version: 1, clientLifetime: d.client.text, serverLifetime: d.server.text }, null, 2) + '\n';
}

export function readCaDefaults(dir: string): CaDefaults {
  const path = caPath(dir, 'defaults');
  if (!existsSync(path)) return BUILT_IN_DEFAULTS;
  let parsed: z.infer<typeof defaultsSchema>;
  try {
    parsed = defaultsSchema.parse(JSON.parse(readFileSync(path, 'utf8')));
  } catch (err) {
    throw new PgmoatError('CA_DEFAULTS_INVALID', `${path} is damaged (expected {"version":1,"clientLifetime":"24h","serverLifetime":"825d"}); fix or delete it`, { cause: err });
  }
  const read = (text: string | undefined, field: string, fallback: Lifetime): Lifetime => {
    if (text === undefined) return fallback;
    try {
      return parseLifetime(text, `${field} in ${path}`);
    } catch (err) {
      throw new PgmoatError('CA_DEFAULTS_INVALID', (err as Error).message, { cause: err });
    }
  };
  return {
    client: read(parsed.clientLifetime, 'clientLifetime', BUILT_IN_DEFAULTS.client),
    server: read(parsed.serverLifetime, 'serverLifetime', BUILT_IN_DEFAULTS.server),
  };
}
