/**
 * The building blocks of the config schema: each field type carries its own error message,
 * written for a person reading the YAML ("expected an integer from 1 to 65535, got "abc"").
 */
import { accessSync, constants, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, resolve } from 'node:path';
import { createSecureContext } from 'node:tls';
import { z } from 'zod';
import { isPgmoatError } from '../util/errors.js';
import { readPrivateFile } from '../util/private-file.js';
import { describeValue } from './describe.js';
import { DURATION_EXPECTED, parseDuration, type ParseResult } from './duration.js';
import { parseSize, SIZE_EXPECTED } from './size.js';
import { didYouMean } from './suggest.js';

/** Where relative paths resolve from and which environment password_env is checked against. */
export interface FileContext {
  dir: string;
  env: Readonly<Record<string, string | undefined>>;
}

/** What a field's error callback sees: the offending input and its full key path. */
interface IssueView {
  input?: unknown;
  path?: readonly PropertyKey[] | undefined;
}

const got = (iss: IssueView): string => describeValue(iss.input, iss.path ?? []);

/** An error callback: "is required" when the key is missing, otherwise "<expected>, got <value>". */
export function expecting(expected: string | ((iss: IssueView) => string)) {
  return (iss: IssueView): string => {
    if (iss.input === undefined) return 'is required';
    const text = typeof expected === 'string' ? expected : expected(iss);
    return `${text}, got ${got(iss)}`;
  };
}

/** Options for refinements that must run even when sibling fields already failed. */
export const ALWAYS = { when: () => true } as const;

/** A custom issue with no input attached, so the formatter never echoes a whole object. */
export function problem(message: string, path: PropertyKey[] = []) {
  return { code: 'custom' as const, message, path, input: undefined };
}

export function int(min: number, max?: number) {
  const error = expecting(
    max === undefined ? `expected an integer of at least ${min}` : `expected an integer from ${min} to ${max}`,
  );
  const base = z.number({ error }).int({ error }).min(min, { error });
  return max === undefined ? base.max(Number.MAX_SAFE_INTEGER, { error }) : base.max(max, { error });
}

export function bool() {
  return z.boolean({ error: expecting('expected true or false') });
}

export function text() {
  const error = expecting('expected a non-empty string');
  return z.string({ error }).min(1, { error });
}

/** A string that may be empty (an empty query disables the feature). */
export function anyText() {
  return z.string({ error: expecting('expected a string') });
}

export function oneOf<const T extends readonly [string, ...string[]]>(values: T) {
  const expected = expecting(`expected one of ${values.join(', ')}`);
  return z.enum(values, {
    error: (iss) => {
      const hint = typeof iss.input === 'string' ? didYouMean(iss.input, values) : undefined;
      return expected(iss) + (hint ? ` (did you mean "${hint}"?)` : '');
    },
  });
}

/** A PostgreSQL identifier-sized name (NAMEDATALEN - 1 = 63 bytes). */
export function pgName() {
  return text().refine((s) => Buffer.byteLength(s, 'utf8') <= 63, {
    error: (iss) => `expected at most 63 bytes, got ${Buffer.byteLength(String(iss.input), 'utf8')}`,
  });
}

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/;

export function host() {
  return z
    .string({ error: expecting('expected a host name or IP address') })
    .refine((h) => isIP(h) !== 0 || HOSTNAME.test(h), {
      error: expecting('expected a host name or IP address (IPv6 without brackets)'),
    });
}

function convert(parse: (v: unknown) => ParseResult, expected: string) {
  return z
    .custom<number | string>((v) => typeof v === 'number' || typeof v === 'string', { error: expecting(expected) })
    .transform((v, ctx) => {
      const r = parse(v);
      if (r.ok) return r.value;
      ctx.addIssue(problem(`${r.reason}, got ${describeValue(v)}`));
      return z.NEVER;
    });
}

/** Seconds (fractions allowed) or "500ms" / "30s" / "5m" / "2h" / "1d"; normalized to milliseconds. */
export function duration() {
  return convert(parseDuration, DURATION_EXPECTED);
}

/** Bytes or "64kB" / "16MB" / "1GB" (binary units); normalized to bytes, within [min, max]. */
export function size(min: number, max: number, minLabel: string, maxLabel: string) {
  return convert((v) => {
    const r = parseSize(v);
    if (!r.ok || (r.value >= min && r.value <= max)) return r;
    return { ok: false, reason: `expected a size from ${minLabel} to ${maxLabel}` };
  }, SIZE_EXPECTED);
}

/** An OpenSSL list Node accepts: checked now so a typo fails at start-up, not at the first handshake. */
export function opensslList(kind: 'ciphers' | 'ciphersuites' | 'groups') {
  return text().superRefine((value, ctx) => {
    const message = opensslListProblem(kind, value);
    if (message) ctx.addIssue(problem(`${message}, got ${JSON.stringify(value)}`));
  });
}

function opensslListProblem(kind: 'ciphers' | 'ciphersuites' | 'groups', value: string): string | undefined {
  if (kind === 'ciphersuites' && !value.split(':').every((s) => s.startsWith('TLS_'))) {
    return 'expected TLS 1.3 suite names separated by ":" (e.g. "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256")';
  }
  try {
    if (kind === 'groups') createSecureContext({ ecdhCurve: value });
    else createSecureContext({ ciphers: value });
    return undefined;
  } catch {
    if (kind === 'groups') return 'OpenSSL does not know one of these groups (e.g. "X25519:P-256")';
    return `OpenSSL matches no ${kind === 'ciphers' ? 'cipher' : 'suite'} in this list`;
  }
}

/** What a file field holds: public material, a private key, or a one-line secret. */
export type FileKind = 'file' | 'private key' | 'passphrase file' | 'password file';

/**
 * A path resolved against the config file's directory. With a FileContext the file must exist,
 * and private ones must not be readable by group or others; contents are left to their user.
 */
export function filePath(ctx: FileContext | undefined, kind: FileKind) {
  return text().transform((p, tctx) => {
    if (!ctx) return p;
    const abs = resolve(ctx.dir, p);
    const message = fileProblem(abs, kind);
    if (message) tctx.addIssue(problem(message));
    return abs;
  });
}

/**
 * A path pgmoat writes (it need not exist yet), resolved against the config file's directory;
 * with a FileContext its directory must exist.
 */
export function outputPath(ctx: FileContext | undefined) {
  return text().transform((p, tctx) => {
    if (!ctx) return p;
    const abs = resolve(ctx.dir, p);
    let isDir = false;
    try {
      isDir = statSync(dirname(abs)).isDirectory();
    } catch {
      // reported below
    }
    if (!isDir) tctx.addIssue(problem(`directory not found: ${dirname(abs)}`));
    return abs;
  });
}

function fileProblem(abs: string, kind: FileKind): string | undefined {
  let isFile: boolean;
  try {
    isFile = statSync(abs).isFile();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? `file not found: ${abs}` : `cannot read ${abs}: ${code ?? 'error'}`;
  }
  if (!isFile) return `not a regular file: ${abs}`;
  if (kind === 'file') {
    try {
      accessSync(abs, constants.R_OK);
      return undefined;
    } catch (err) {
      return `cannot read ${abs}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`;
    }
  }
  try {
    // Read only to prove it is readable; the TLS layer or resolvePassword reads it for real.
    readPrivateFile(abs, kind).fill(0);
    return undefined;
  } catch (err) {
    if (isPgmoatError(err)) return err.message;
    throw err;
  }
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The name of an environment variable that must be set (and non-empty) when checked. */
export function envName(ctx: FileContext | undefined) {
  return text()
    .refine((name) => ENV_NAME.test(name), { error: expecting('expected an environment variable name') })
    .superRefine((name, rctx) => {
      if (!ctx || !ENV_NAME.test(name)) return;
      const value = ctx.env[name];
      if (value === undefined) rctx.addIssue(problem(`environment variable ${name} is not set`));
      else if (value === '') rctx.addIssue(problem(`environment variable ${name} is empty`));
    });
}
