/**
 * `renewal:` in pgmoat.yaml: the renewal service `pgmoat serve` runs beside the gateway (the
 * same listener `pgmoat ca serve` runs alone). docs/config-reference.md ("renewal") describes
 * each key.
 */
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import { ALWAYS, duration, envName, expecting, filePath, host, int, problem, text, type FileContext } from './fields.js';

function strictObject<T extends z.core.$ZodLooseShape>(shape: T) {
  return z.strictObject(shape, { error: expecting('expected a mapping (key: value)') });
}

/** A directory (the CA's), resolved against the config file's directory and checked when there is a FileContext. */
function directoryPath(ctx: FileContext | undefined) {
  return text().transform((p, tctx) => {
    if (!ctx) return p;
    const abs = resolve(ctx.dir, p);
    let isDir = false;
    try {
      isDir = statSync(abs).isDirectory();
    } catch {
      // reported below
    }
    if (!isDir) tctx.addIssue(problem(`directory not found: ${abs}`));
    return abs;
  });
}

export function renewalSchema(ctx: FileContext | undefined) {
  return strictObject({
    host: host().default('127.0.0.1'),
    port: int(0, 65535).default(8443),
    ca_dir: directoryPath(ctx),
    ca_passphrase_file: filePath(ctx, 'passphrase file').optional(),
    ca_passphrase_env: envName(ctx).optional(),
    /** 0 (the default): an expired certificate never renews. */
    expired_grace: duration().default(0),
    rate_limit: strictObject({
      max: int(1).default(20),
      window: duration().default(3_600_000),
    }).prefault({}),
    /** The gateway renewing its own tls.cert through this CA (when this CA issued it). */
    server_certificate: strictObject({
      renew: z.enum(['auto', 'off'], { error: expecting('expected auto or off') }).default('auto'),
      renew_at: z
        .number({ error: expecting('expected a fraction of the lifetime between 0 and 1, e.g. 0.667') })
        .gt(0, { error: 'expected a fraction of the lifetime between 0 and 1, e.g. 0.667' })
        .lt(1, { error: 'expected a fraction of the lifetime between 0 and 1, e.g. 0.667' })
        .default(2 / 3),
    }).prefault({}),
    /** The listener's own certificate; by default the gateway's tls.cert and tls.key. */
    tls: strictObject({
      cert: filePath(ctx, 'file'),
      key: filePath(ctx, 'private key'),
      key_passphrase_file: filePath(ctx, 'passphrase file').optional(),
    }).optional(),
  }).superRefine((r, rctx) => {
    if (r.ca_passphrase_file !== undefined && r.ca_passphrase_env !== undefined) {
      rctx.addIssue(problem('ca_passphrase_file and ca_passphrase_env are mutually exclusive: keep one', ['ca_passphrase_env']));
    }
  }, ALWAYS);
}
