/**
 * pgbouncer.ini (and its %includes, and optionally a userlist) -> pgmoat.yaml text, the list of
 * what could not be carried over, the password variables to set, and the problems pgmoat's
 * schema still finds in the result. No file is written: the caller prints.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { configSchema } from '../config/schema.js';
import { fallbackMessage, formatIssues, knownKeysAt } from '../config/issues.js';
import { AUTH_SETTINGS, convertAuth } from './auth.js';
import { makeCtx, type Ctx, type FileMode } from './context.js';
import { convertDatabases } from './databases.js';
import { capMinPoolSize, convertGeneral } from './general.js';
import { loadIni, type IniSetting, type LoadedIni, type ReadText } from './ini-files.js';
import { formatNote, ImportReport, type PasswordVariable } from './report.js';
import { CLIENT_TLS_SETTINGS, convertClientTls, convertServerTls, SERVER_TLS_SETTINGS } from './tls.js';
import { changesNothing, UNSUPPORTED_SETTINGS } from './unsupported.js';
import { convertUsers } from './users.js';
import { renderYaml, YamlBlock } from './yaml-out.js';

export interface ImportOptions {
  /** A userlist to check and name as auth_file (instead of the path auth_file gives). */
  userlistPath?: string | undefined;
  /** Database names to create from the `*` fallback entry. */
  fallbackDatabases?: readonly string[] | undefined;
  /** Top-level keys pgmoat's schema knows; default: read from the schema itself. */
  supportedKeys?: ReadonlySet<string> | undefined;
  read?: ReadText | undefined;
  fileMode?: FileMode | undefined;
}

export interface ImportResult {
  yaml: string;
  /** stderr lines: `file:line: setting: not carried over: why` and notes, in file order. */
  notes: string[];
  notCarriedCount: number;
  /** Notes about something pgmoat will refuse when loading the output (a private key readable by others...). */
  blockerCount: number;
  passwords: PasswordVariable[];
  databaseCount: number;
  /** What pgmoat's schema says about the output (file checks aside); empty when it loads as is. */
  problems: string[];
}

/** Label used in the self-check's problem lines. */
const OUTPUT_LABEL = 'pgmoat.yaml';

function splitSections(ctx: Ctx, ini: LoadedIni): { databases: IniSetting[]; users: IniSetting[] } {
  const databases: IniSetting[] = [];
  const users: IniSetting[] = [];
  for (const s of ini.settings) {
    switch (s.section) {
      case 'pgbouncer':
        ctx.pgb.set(s.key.toLowerCase(), s);
        break;
      case 'databases':
        databases.push(s);
        break;
      case 'users':
        users.push(s);
        break;
      case 'peers':
        ctx.report.notCarried(s.origin, `peer ${s.key}`, 'pgmoat has no peering between processes');
        break;
      case '':
        ctx.report.notCarried(s.origin, s.key, 'outside any [section] (PgBouncer refuses this too)');
        break;
      default:
        ctx.report.notCarried(s.origin, s.key, `in [${s.section}], a section PgBouncer does not have`);
    }
  }
  return { databases, users };
}

const HANDLED_ELSEWHERE = new Set([...AUTH_SETTINGS, ...CLIENT_TLS_SETTINGS, ...SERVER_TLS_SETTINGS]);

function convertRest(ctx: Ctx): void {
  for (const s of ctx.pgb.values()) {
    const key = s.key.toLowerCase();
    if (HANDLED_ELSEWHERE.has(key) || convertGeneral(ctx, s)) continue;
    const reason = UNSUPPORTED_SETTINGS[key];
    if (reason !== undefined && changesNothing(key, s.value)) continue;
    ctx.report.notCarried(s.origin, key, reason ?? 'not a PgBouncer setting pgmoat knows');
  }
}

function header(iniPath: string, ctx: Ctx): string[] {
  const lines = [`pgmoat configuration converted from ${iniPath} by "pgmoat import-pgbouncer".`, 'What could not be carried over was listed on stderr, with the reason.'];
  const differing: string[] = [];
  if (!ctx.pgb.has('max_client_conn')) differing.push('max_client_conn (pgmoat 1000, PgBouncer 100)');
  if (!ctx.pgb.has('client_login_timeout')) differing.push('client_login_timeout (pgmoat 15s, PgBouncer 60s)');
  if (!ctx.pgb.has('server_tls_sslmode')) differing.push('TLS to PostgreSQL (pgmoat prefer, PgBouncer disable)');
  if (differing.length > 0) {
    lines.push("Keys not written keep pgmoat's defaults (docs/config-reference.md); these differ from PgBouncer's:");
    for (const d of differing) lines.push(`  ${d}`);
  }
  return lines;
}

function assemble(ctx: Ctx): YamlBlock {
  const top = new YamlBlock();
  const o = ctx.out;
  if (Object.keys(o.listen).length > 0) top.add({ key: 'listen', value: o.listen });
  for (const e of o.general.entries) top.add(e);
  if (Object.keys(o.log).length > 0) top.add({ key: 'log', value: o.log });
  top.add({ key: 'tls', value: o.tls, comments: ['clients -> pgmoat (client_tls_*)'] });
  for (const e of o.access.entries) top.add(e);
  top.add({ key: 'databases', value: o.databases, comments: ['pgmoat -> PostgreSQL: one entry per [databases] line; server_tls_* became each entry\'s tls'] });
  if (o.users.entries.length > 0) top.add({ key: 'users', value: o.users });
  if (o.admin.entries.length > 0) top.add({ key: 'admin', value: o.admin });
  return top;
}

/** What pgmoat's schema says about the text (paths and environment variables are not checked here). */
export function selfCheck(yamlText: string): string[] {
  let data: unknown;
  try {
    data = parseYaml(yamlText);
  } catch (err) {
    return [`${OUTPUT_LABEL}: YAML error: ${(err as Error).message.split('\n')[0] ?? ''}`];
  }
  const result = configSchema.safeParse(data, { reportInput: true, error: fallbackMessage });
  return result.success ? [] : formatIssues(result.error.issues, configSchema, OUTPUT_LABEL);
}

export function importPgbouncer(iniPath: string, opts: ImportOptions = {}): ImportResult {
  const read = opts.read ?? ((p: string) => readFileSync(p, 'utf8'));
  const ini = loadIni(iniPath, read);
  const report = new ImportReport();
  const supported = opts.supportedKeys ?? new Set(knownKeysAt(configSchema, []));
  const ctx = makeCtx(report, supported, iniPath, opts.fileMode);
  const { databases, users } = splitSections(ctx, ini);

  const auth = convertAuth(ctx, { userlistPath: opts.userlistPath, read });
  convertClientTls(ctx, auth.certAuth);
  const mode = ctx.out.tls.get('mode')?.value;
  if (auth.hbaNeedsCertificate && mode !== 'verify-ca' && mode !== 'verify-full') {
    report.note(ctx.pgb.get('auth_hba_file')?.origin, 'auth_hba_file', `has lines that need a client certificate (cert, clientcert=...), which pgmoat asks for only with tls.mode verify-ca or verify-full (here: ${String(mode ?? 'verify-full')})`);
  }
  const serverTls = convertServerTls(ctx);
  convertRest(ctx);
  capMinPoolSize(ctx);
  convertDatabases(ctx, databases, { serverTls, userlist: auth.userlist, fallbackDatabases: opts.fallbackDatabases ?? [] });
  convertUsers(ctx, users);
  const databaseCount = ctx.out.databases.liveCount();
  if (databaseCount === 0) {
    report.note(undefined, '[databases]', 'no database could be carried over, and pgmoat needs at least one: add one under databases:');
  }

  const yaml = renderYaml(header(iniPath, ctx), assemble(ctx));
  const notes = report.sorted(ini.files);
  return {
    yaml,
    notes: notes.map((n) => formatNote(n, iniPath)),
    notCarriedCount: notes.filter((n) => n.kind === 'not-carried').length,
    blockerCount: notes.filter((n) => n.blocks).length,
    passwords: report.passwords,
    databaseCount,
    problems: selfCheck(yaml),
  };
}
