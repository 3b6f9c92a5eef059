/**
 * auth_type, auth_file, auth_hba_file, auth_user, auth_query and admin_users.
 *
 * auth_type becomes one access rule (`rules: [{ method }]`), or `hba_file:` for hba; cert is
 * pgmoat's tls.mode verify-full (the CN must equal the role), which needs no rule. A method
 * pgmoat lacks (pam, ldap, ...) becomes `reject` rather than falling back to pgmoat's default,
 * which could let everyone in. The userlist and the hba file are read when they can be, to
 * report what pgmoat will refuse in them before it refuses them at start-up.
 */
import { resolve } from 'node:path';
import { parseHbaFile } from '../auth/hba-file.js';
import { parseUserlist, type UserSecret } from '../auth/userlist.js';
import { errorMessage } from '../util/errors.js';
import { addAccessKey, carryPath, type Ctx } from './context.js';
import type { Origin, ReadText } from './ini-files.js';
import { parseList } from './values.js';

export const AUTH_SETTINGS: readonly string[] = ['auth_type', 'auth_file', 'auth_hba_file', 'auth_user', 'auth_query', 'admin_users'];

export interface AuthOptions {
  /** --userlist: the userlist to use instead of the one auth_file names (resolved against the working directory). */
  userlistPath?: string | undefined;
  read: ReadText;
}

export interface AuthResult {
  /** auth_type = cert: clients are identified by their certificate's CN. */
  certAuth: boolean;
  /** The userlist, when it could be read: forced users' upstream passwords are looked up in it. */
  userlist: Map<string, UserSecret> | undefined;
  /** The hba file has lines that need a verified client certificate (cert, clientcert=...). */
  hbaNeedsCertificate: boolean;
}

const PASSWORD_METHODS: Readonly<Record<string, string>> = { md5: 'md5', 'scram-sha-256': 'scram-sha-256', plain: 'password' };

function readUserlist(ctx: Ctx, read: ReadText, abs: string, label: string, origin: Origin | undefined, setting: string): Map<string, UserSecret> | undefined {
  let text: string;
  try {
    text = read(abs);
  } catch (err) {
    ctx.report.note(origin, setting, `cannot read ${label} (${(err as NodeJS.ErrnoException).code ?? 'error'}): its entries were not checked`);
    return undefined;
  }
  try {
    const users = parseUserlist(text, { fileName: label });
    if (users.size === 0) ctx.report.note(origin, setting, `${label} holds no users: nobody can log in with a password`);
    return users;
  } catch (err) {
    // userlist.ts names the line and never the secret.
    ctx.report.blocker(origin, setting, `pgmoat will refuse this userlist: ${errorMessage(err)}`);
    return undefined;
  }
}

/** What pgmoat will refuse in a PgBouncer hba file, and whether some line needs a client certificate. */
function checkHba(ctx: Ctx, read: ReadText, abs: string, label: string, origin: Origin): boolean {
  let text: string;
  try {
    text = read(abs);
  } catch (err) {
    ctx.report.note(origin, 'auth_hba_file', `cannot read ${label} (${(err as NodeJS.ErrnoException).code ?? 'error'}): its lines were not checked`);
    return false;
  }
  // `local` lines never match a TCP gateway, but pgmoat's parser still refuses methods it lacks
  // on them (the usual `local all all peer`): report those, then check the rest of the file.
  const lines = text.split('\n');
  lines.forEach((l, i) => {
    if (!/^\s*local(\s|$)/.test(l)) return;
    try {
      parseHbaFile('\n'.repeat(i) + l, { fileName: label });
    } catch (err) {
      ctx.report.blocker(origin, 'auth_hba_file', `pgmoat will refuse this file: ${errorMessage(err)}; "local" lines never match in pgmoat (TCP only): delete it`);
      lines[i] = '';
    }
  });
  let rules;
  try {
    rules = parseHbaFile(lines.join('\n'), { fileName: label });
  } catch (err) {
    ctx.report.blocker(origin, 'auth_hba_file', `pgmoat will refuse this file: ${errorMessage(err)}`);
    return false;
  }
  let needsCert = false;
  for (const r of rules) {
    const line = `${label} line ${r.line}`;
    if (r.databases.some((d) => d.kind === 'samerole')) ctx.report.blocker(origin, 'auth_hba_file', `${line}: pgmoat will refuse "samerole" (it does not know role membership): list the databases`);
    if (r.users.some((u) => u.kind === 'group')) ctx.report.blocker(origin, 'auth_hba_file', `${line}: pgmoat will refuse "+group" (it does not know role membership): list the roles`);
    if (r.options.clientname === 'DN') ctx.report.blocker(origin, 'auth_hba_file', `${line}: pgmoat will refuse clientname=DN: it maps the certificate CN`);
    if (r.method === 'cert' || r.options.clientcert !== undefined) needsCert = true;
  }
  return needsCert;
}

function adminUsers(ctx: Ctx, certAuth: boolean): void {
  const s = ctx.pgb.get('admin_users');
  if (!s) return;
  const users = parseList(s.value);
  if (users.length === 0) return;
  if (certAuth) {
    ctx.out.admin.add({ key: 'identities', value: users, comments: ['admin_users: under auth_type = cert the user name is the certificate CN'] });
    return;
  }
  ctx.out.admin.add({
    key: 'identities',
    value: users,
    commentedOut: true,
    comments: ["admin_users were PgBouncer user names; pgmoat's console admits certificate CNs: issue certificates with these names (pgmoat issue NAME) and uncomment"],
  });
  ctx.report.notCarried(s.origin, 'admin_users', "pgmoat's admin console admits certificate identities, not passwords: set admin.identities to the CNs of certificates you issue (suggestion written as a comment)");
}

export function convertAuth(ctx: Ctx, opts: AuthOptions): AuthResult {
  const typeSetting = ctx.pgb.get('auth_type');
  const type = (typeSetting?.value ?? 'md5').trim().toLowerCase();
  const typeOrigin = typeSetting?.origin;
  const why = typeSetting ? `auth_type = ${type}` : "auth_type not set (PgBouncer's default: md5)";
  const result: AuthResult = { certAuth: type === 'cert', userlist: undefined, hbaNeedsCertificate: false };
  if (!typeSetting) ctx.report.note(undefined, 'auth_type', "not set: PgBouncer's default, md5, is carried over");

  let method: string | undefined;
  let secrets = false;
  if (type === 'cert') {
    ctx.report.note(typeOrigin, 'auth_type', 'cert is carried over as tls.mode verify-full: the client certificate CN must equal the role');
  } else if (PASSWORD_METHODS[type]) {
    method = PASSWORD_METHODS[type];
    secrets = true;
  } else if (type === 'trust' || type === 'any') {
    method = 'trust';
    ctx.report.note(
      typeOrigin,
      'auth_type',
      type === 'trust'
        ? 'pgmoat trusts any role; PgBouncer also required the user name to be in auth_file'
        : 'any is carried over as trust: pgmoat keeps the role the client asked for instead of ignoring it',
    );
  } else if (type === 'hba') {
    secrets = true;
  } else {
    method = 'reject';
    ctx.report.notCarried(typeOrigin, 'auth_type', `pgmoat has no ${type} authentication; written as a rule that refuses every client: replace it with cert, scram-sha-256 or md5`);
  }
  if (method !== undefined) addAccessKey(ctx, typeOrigin, { key: 'rules', value: [{ method }], comments: [why] });

  const hba = ctx.pgb.get('auth_hba_file');
  if (type === 'hba') {
    if (hba && hba.value !== '') {
      const path = carryPath(ctx, hba.origin, 'auth_hba_file', hba.value, 'file');
      addAccessKey(ctx, hba.origin, { key: 'hba_file', value: path, comments: ['auth_type = hba'] });
      result.hbaNeedsCertificate = checkHba(ctx, opts.read, resolve(ctx.iniDir, path), hba.value, hba.origin);
    } else {
      ctx.report.notCarried(typeOrigin, 'auth_type', 'hba without auth_hba_file: written as a rule that refuses every client');
      addAccessKey(ctx, typeOrigin, { key: 'rules', value: [{ method: 'reject' }], comments: ['auth_type = hba, but no auth_hba_file'] });
    }
  } else if (hba) {
    ctx.report.notCarried(hba.origin, 'auth_hba_file', `used only with auth_type = hba (here: ${type})`);
  }

  const authFile = ctx.pgb.get('auth_file');
  const authUser = ctx.pgb.get('auth_user');
  if (opts.userlistPath !== undefined) {
    const abs = resolve(opts.userlistPath);
    result.userlist = readUserlist(ctx, opts.read, abs, opts.userlistPath, authFile?.origin, '--userlist');
    if (secrets) addAccessKey(ctx, authFile?.origin, { key: 'auth_file', value: carryPath(ctx, authFile?.origin, '--userlist', abs, 'password file') });
  } else if (authFile && authFile.value !== '') {
    const abs = resolve(ctx.iniDir, authFile.value);
    result.userlist = readUserlist(ctx, opts.read, abs, authFile.value, authFile.origin, 'auth_file');
    if (secrets) addAccessKey(ctx, authFile.origin, { key: 'auth_file', value: carryPath(ctx, authFile.origin, 'auth_file', authFile.value, 'password file') });
  } else if (secrets && !authUser) {
    ctx.report.note(typeOrigin, 'auth_file', `not set, and no auth_user: PgBouncer had no users to check passwords against; pgmoat needs auth_file (a userlist.txt) for ${why}`);
  }
  if (!secrets && authFile) {
    ctx.report.notCarried(authFile.origin, 'auth_file', `pgmoat reads auth_file only to check client passwords, which ${why} does not ask for`);
  }

  if (authUser && authUser.value !== '') addAccessKey(ctx, authUser.origin, { key: 'auth_user', value: authUser.value.trim() });
  const authQuery = ctx.pgb.get('auth_query');
  if (authQuery && authQuery.value !== '') addAccessKey(ctx, authQuery.origin, { key: 'auth_query', value: authQuery.value });

  adminUsers(ctx, result.certAuth);
  return result;
}
