/**
 * First-match evaluation of pg_hba rules, with PostgreSQL's semantics: `all` does not match
 * replication connections, only `replication` does; `sameuser` compares database and role;
 * `+role` and `samerole` need role membership, which the caller supplies. Without it such a
 * rule cannot be decided and the evaluation throws rather than skipping the rule (skipping a
 * `reject` line would let the client fall through to a later, more permissive one).
 */
import { PgmoatError } from '../util/errors.js';
import { cidrContains, type IpAddress } from './cidr.js';
import type { HbaDatabase, HbaRule, HbaUser } from './hba-file.js';

export interface HbaConnection {
  transport: 'local' | 'tcp';
  /** TLS in use on this connection. */
  ssl: boolean;
  database: string;
  user: string;
  /** Peer address; required for tcp. */
  address?: string | IpAddress;
  replication?: boolean;
}

export interface HbaMatchContext {
  /** Whether `user` is (directly or indirectly) a member of `role`. */
  isMember?: (user: string, role: string) => boolean;
}

function member(ctx: HbaMatchContext, user: string, role: string, rule: HbaRule): boolean {
  if (user === role) return true;
  if (!ctx.isMember) {
    throw new PgmoatError(
      'HBA_GROUP_UNRESOLVED',
      `rule on line ${rule.line} needs role membership ("+${role}" or samerole), and no membership lookup was provided`,
    );
  }
  return ctx.isMember(user, role);
}

function databaseMatches(d: HbaDatabase, conn: HbaConnection, ctx: HbaMatchContext, rule: HbaRule): boolean {
  if (conn.replication) return d.kind === 'replication';
  switch (d.kind) {
    case 'all':
      return true;
    case 'sameuser':
      return conn.database === conn.user;
    case 'samerole':
      return member(ctx, conn.user, conn.database, rule);
    case 'replication':
      return false;
    case 'name':
      return d.name === conn.database;
    case 'regex':
      return d.regex.test(conn.database);
  }
}

function userMatches(u: HbaUser, conn: HbaConnection, ctx: HbaMatchContext, rule: HbaRule): boolean {
  switch (u.kind) {
    case 'all':
      return true;
    case 'name':
      return u.name === conn.user;
    case 'group':
      return member(ctx, conn.user, u.role, rule);
    case 'regex':
      return u.regex.test(conn.user);
  }
}

function connTypeMatches(rule: HbaRule, conn: HbaConnection): boolean {
  switch (rule.connType) {
    case 'local':
      return conn.transport === 'local';
    case 'host':
      return conn.transport === 'tcp';
    case 'hostssl':
      return conn.transport === 'tcp' && conn.ssl;
    case 'hostnossl':
      return conn.transport === 'tcp' && !conn.ssl;
  }
}

export function hbaRuleMatches(rule: HbaRule, conn: HbaConnection, ctx: HbaMatchContext = {}): boolean {
  if (!connTypeMatches(rule, conn)) return false;
  if (rule.address && rule.address.kind === 'cidr') {
    if (conn.address === undefined) throw new PgmoatError('HBA_NO_ADDRESS', 'a TCP connection was matched without its peer address');
    if (!cidrContains(rule.address.cidr, conn.address)) return false;
  }
  if (!rule.databases.some((d) => databaseMatches(d, conn, ctx, rule))) return false;
  return rule.users.some((u) => userMatches(u, conn, ctx, rule));
}

/** The first rule that matches, or undefined (which must mean: refuse). */
export function findHbaRule(rules: readonly HbaRule[], conn: HbaConnection, ctx: HbaMatchContext = {}): HbaRule | undefined {
  return rules.find((rule) => hbaRuleMatches(rule, conn, ctx));
}
