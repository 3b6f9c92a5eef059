/**
 * A gateway that cannot open a server connection says so in an ErrorResponse: a FATAL at login
 * (the pool's first connection), or an ERROR for the first query. pgmoat puts its error code in
 * the routine field (UPSTREAM_CONNECT, UPSTREAM_TLS, ...); an upstream's own refusal keeps
 * PostgreSQL's SQLSTATE (28P01, 3D000, ...). Both are read here, by code and SQLSTATE; the
 * message is only quoted, never matched, except to pick a value for a fix (the Node TLS error
 * code inside UPSTREAM_TLS) or where PostgreSQL gives no code (pg_hba's "no encryption").
 */
import type { ErrorFields } from '../protocol/error-response.js';
import { ERROR_CODES } from '../util/error-codes.js';
import { fixes, type FixContext, type FixFacts } from './fixes.js';

export interface UpstreamVerdict {
  /** Stable code for scripts and tests. */
  code: string;
  fix: string;
}

/** Node's and OpenSSL's verification codes, as UPSTREAM_TLS quotes them ("failed: CODE: ..."). */
const UNTRUSTED = new Set(['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'CERT_SIGNATURE_FAILURE', 'CERT_UNTRUSTED']);

function tlsCause(message: string): string | undefined {
  return /failed: ([A-Z0-9_]+): /.exec(message)?.[1];
}

function byTlsCause(message: string, ctx: FixContext, f: FixFacts): UpstreamVerdict {
  const cause = tlsCause(message);
  if (cause === 'ERR_TLS_CERT_ALTNAME_INVALID') return { code: 'UPSTREAM_TLS_HOSTNAME', fix: fixes.upstreamHostName(ctx, f) };
  if (cause === 'CERT_HAS_EXPIRED') return { code: 'UPSTREAM_TLS_CERT_EXPIRED', fix: fixes.upstreamCertExpired() };
  if (cause !== undefined && UNTRUSTED.has(cause)) return { code: 'UPSTREAM_TLS_UNTRUSTED', fix: fixes.upstreamUntrusted(ctx, f) };
  return { code: 'UPSTREAM_TLS_FAILED', fix: fixes.upstreamTls(ctx, f) };
}

/** An upstream's own login refusal, by its SQLSTATE. */
function bySqlstate(fields: ErrorFields, ctx: FixContext, f: FixFacts): UpstreamVerdict | undefined {
  switch (fields.code) {
    case '28P01':
      return { code: 'UPSTREAM_AUTH_FAILED', fix: fixes.upstreamPassword(ctx, f) };
    case '3D000':
      return { code: 'UPSTREAM_NO_DATABASE', fix: fixes.upstreamNoDatabase(ctx, f) };
    case '28000':
      // pg_hba.conf with only hostssl lines refuses a plain connection; PostgreSQL says so only in words.
      if (/no encryption/.test(fields.message)) return { code: 'UPSTREAM_REQUIRES_TLS', fix: fixes.upstreamTlsRequired(ctx, f) };
      return { code: 'UPSTREAM_ACCESS_DENIED', fix: fixes.upstreamHba(ctx, f) };
    case '57P03':
    case '53300':
      return { code: 'UPSTREAM_BUSY', fix: fixes.upstreamSlow(ctx, f) };
    default:
      return undefined;
  }
}

/**
 * The verdict on a gateway's report of an upstream failure, or undefined when `fields` is not
 * one. `fromQuery`: the ErrorResponse answered SELECT 1, which cannot itself fail with a login's
 * SQLSTATE, so one without pgmoat's code is the upstream's refusal passed on.
 */
export function upstreamVerdict(fields: ErrorFields, ctx: FixContext, f: FixFacts, fromQuery: boolean): UpstreamVerdict | undefined {
  switch (fields.routine) {
    case 'UPSTREAM_CONNECT':
    case 'UPSTREAM_UNAVAILABLE':
    case 'QUERY_WAIT_TIMEOUT':
      return { code: 'UPSTREAM_UNREACHABLE', fix: fixes.upstreamDown(ctx, f) };
    case 'UPSTREAM_TIMEOUT':
      return { code: 'UPSTREAM_TIMEOUT', fix: fixes.upstreamSlow(ctx, f) };
    case 'UPSTREAM_NO_TLS':
      return { code: 'UPSTREAM_NO_TLS', fix: fixes.upstreamNoTls(ctx, f) };
    case 'UPSTREAM_TLS':
      return byTlsCause(fields.message, ctx, f);
    case 'UPSTREAM_NO_PASSWORD':
      return { code: 'UPSTREAM_NO_PASSWORD', fix: fixes.upstreamNoPassword(ctx, f) };
    case 'UPSTREAM_AUTH':
    case 'SCRAM_SERVER_ERROR':
      return { code: 'UPSTREAM_AUTH_FAILED', fix: fixes.upstreamPassword(ctx, f) };
    case 'UPSTREAM_AUTH_UNSUPPORTED':
    case 'SASL_MECHANISM_UNSUPPORTED':
      return { code: 'UPSTREAM_AUTH_METHOD', fix: fixes.upstreamAuthMethod() };
    case 'UPSTREAM_LOGIN_REFUSED':
      return bySqlstate(fields, ctx, f) ?? { code: 'UPSTREAM_REFUSED', fix: fixes.upstreamOther(ctx, f) };
    case 'UPSTREAM_LOGIN':
    case 'UPSTREAM_PROTOCOL':
      return { code: 'UPSTREAM_LOGIN_FAILED', fix: fixes.upstreamOther(ctx, f) };
    default:
      // PostgreSQL's own routine names (auth_failed, InitPostgres) are not pgmoat codes.
      return fromQuery && (fields.routine === undefined || !Object.hasOwn(ERROR_CODES, fields.routine)) ? bySqlstate(fields, ctx, f) : undefined;
  }
}
