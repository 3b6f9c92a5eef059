/**
 * What the section converters share: the settings read, the report, the parts of the output
 * they fill in, and checks on files the output will name (pgmoat refuses at load what
 * PgBouncer accepted: a missing file, a private key readable by group or others).
 */
import { statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { IniSetting, Origin } from './ini-files.js';
import type { ImportReport } from './report.js';
import { YamlBlock, type YamlEntry } from './yaml-out.js';

export interface Output {
  listen: Record<string, unknown>;
  /** Top-level pool, limit and timeout keys, in the order they were met. */
  general: YamlBlock;
  log: Record<string, unknown>;
  tls: YamlBlock;
  /** rules, hba_file, auth_file, auth_user, auth_query (or their commented-out forms). */
  access: YamlBlock;
  databases: YamlBlock;
  users: YamlBlock;
  admin: YamlBlock;
}

function emptyOutput(): Output {
  return {
    listen: {},
    general: new YamlBlock(),
    log: {},
    tls: new YamlBlock(),
    access: new YamlBlock(),
    databases: new YamlBlock(true),
    users: new YamlBlock(),
    admin: new YamlBlock(),
  };
}

export type FileMode = (absolutePath: string) => { mode: number; isFile: boolean } | 'missing' | 'unreadable';

const statMode: FileMode = (p) => {
  try {
    const st = statSync(p);
    return { mode: st.mode & 0o777, isFile: st.isFile() };
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : 'unreadable';
  }
};

export interface Ctx {
  report: ImportReport;
  /** Top-level keys pgmoat's schema knows: access keys not yet there are written as comments. */
  supported: ReadonlySet<string>;
  /** [pgbouncer] settings by lower-cased name; the last one written wins, as in PgBouncer. */
  pgb: Map<string, IniSetting>;
  out: Output;
  /** Directory of the main pgbouncer.ini: relative paths are looked for from there. */
  iniDir: string;
  fileMode: FileMode;
  /** Environment variable names handed out so far (password_env must not collide). */
  envNames: Set<string>;
}

export function makeCtx(report: ImportReport, supported: ReadonlySet<string>, iniPath: string, fileMode: FileMode = statMode): Ctx {
  return { report, supported, pgb: new Map(), out: emptyOutput(), iniDir: dirname(resolve(iniPath)), fileMode, envNames: new Set() };
}

export type FileRole = 'file' | 'private key' | 'password file';

/**
 * The path to write into pgmoat.yaml for a file PgBouncer named, after telling the person what
 * pgmoat will think of it. `~/` is expanded (PgBouncer expands it for file settings); relative
 * paths are kept, with a note: pgmoat resolves them against pgmoat.yaml's directory.
 */
export function carryPath(ctx: Ctx, origin: Origin | undefined, setting: string, value: string, role: FileRole): string {
  let path = value;
  if (path.startsWith('~/')) {
    path = join(homedir(), path.slice(2));
    ctx.report.note(origin, setting, `"~/" expanded to ${path} (pgmoat does not expand "~")`);
  }
  if (!isAbsolute(path)) {
    ctx.report.note(origin, setting, `relative path ${path} kept as written: pgmoat resolves it against the directory of pgmoat.yaml, PgBouncer against its working directory`);
  }
  const abs = resolve(ctx.iniDir, path);
  const st = ctx.fileMode(abs);
  if (st === 'missing') {
    // A relative path may well exist beside pgmoat.yaml, wherever that goes: only an absolute one surely blocks.
    const report = isAbsolute(path) ? ctx.report.blocker.bind(ctx.report) : ctx.report.note.bind(ctx.report);
    report(origin, setting, `${abs} does not exist on this machine: pgmoat refuses to load a configuration naming a missing file`);
  } else if (st === 'unreadable') {
    ctx.report.note(origin, setting, `cannot inspect ${abs} from here (permission denied?): pgmoat must be able to read it`);
  } else if (!st.isFile) {
    ctx.report.blocker(origin, setting, `${abs} is not a regular file: pgmoat refuses it`);
  } else if (role !== 'file' && (st.mode & 0o077) !== 0) {
    ctx.report.blocker(
      origin,
      setting,
      `${abs} is readable by group or others (mode 0${st.mode.toString(8)}), which pgmoat refuses for a ${role}: run chmod 600 ${abs} (owned by the user pgmoat runs as)`,
    );
  }
  return path;
}

/** `PGMOAT_<NAME>_PASSWORD`, unique among those handed out. */
export function passwordEnvName(ctx: Ctx, base: string): string {
  const stem = base.toUpperCase().replace(/[^A-Z0-9]+/g, '_').replace(/^_+|_+$/g, '') || 'DB';
  let name = `PGMOAT_${stem}_PASSWORD`;
  for (let n = 2; ctx.envNames.has(name); n++) name = `PGMOAT_${stem}_${n}_PASSWORD`;
  ctx.envNames.add(name);
  return name;
}

/** Adds a top-level access key, or writes it as a comment when pgmoat's schema does not know it yet. */
export function addAccessKey(ctx: Ctx, origin: Origin | undefined, entry: YamlEntry): void {
  if (ctx.supported.has(entry.key)) {
    ctx.out.access.add(entry);
    return;
  }
  ctx.out.access.add({ ...entry, commentedOut: true, comments: [...(entry.comments ?? []), `pgmoat does not read "${entry.key}:" yet; uncomment once it does`] });
  ctx.report.notCarried(origin, entry.key, `this pgmoat does not read "${entry.key}:" yet; written as a comment in the output`);
}
