/** Steps 6, 7 and 8 as results: handshake refusals, login and query outcomes, each with its one fix. */
import type { ErrorFields } from '../protocol/error-response.js';
import { fixes, type FixContext, type FixFacts } from './fixes.js';
import type { Refusal } from './handshake-words.js';
import type { AuthMethod, LoginOutcome } from './login.js';
import { DOCTOR_QUERY, type QueryOutcome } from './query.js';
import { fail, ok, type StepResult } from './types.js';
import { upstreamVerdict } from './upstream-verdicts.js';

export function refusalFix(r: Refusal, ctx: FixContext): string {
  switch (r.kind) {
    case 'unknown-ca':
      return fixes.issueFromGatewayCa(ctx);
    case 'expired':
      return fixes.renew(ctx);
    case 'not-yet-valid':
      return fixes.checkClock();
    case 'revoked':
      return fixes.reissueRevoked(ctx);
    case 'no-certificate':
      return fixes.passCertAndKey(ctx);
    case 'not-for-client-use':
      return fixes.issueClientCert(ctx);
    case 'invalid':
    case 'no-identity':
      return fixes.issueFromGatewayCa(ctx);
    case 'key-mismatch':
      return fixes.matchingKey(ctx);
    case 'protocol':
      return "make the TLS settings meet: this client offers TLS 1.2 and 1.3 (check the server's ssl_min_protocol_version / ssl_max_protocol_version, or pgmoat's tls.min_version)";
    case 'closed':
      return "read the server's log for the reason (a Node-based server such as pgmoat logs why it refused the certificate); most often it does not trust the CA that issued it, or the certificate is revoked";
    case 'other':
      return "read the server's log for the reason";
  }
}

export function handshakeFailed(r: Refusal, ctx: FixContext): StepResult {
  return fail('handshake', r.code, r.words, refusalFix(r, ctx));
}

/** A close without a word right after the handshake: how Node-based servers refuse a certificate. */
export const SILENT_CLOSE: Refusal = {
  kind: 'closed',
  code: 'CLOSED_AFTER_HANDSHAKE',
  words: 'the server closed the connection right after the TLS handshake without a TLS alert or an error message (Node-based servers such as pgmoat refuse a client certificate this way)',
};

function authWords(method: AuthMethod): string {
  switch (method) {
    case 'none':
      return 'no password asked: certificate or trust authentication';
    case 'cleartext':
      return 'cleartext password from PGPASSWORD';
    case 'md5':
      return 'md5 password from PGPASSWORD';
    case 'scram-sha-256':
      return 'SCRAM-SHA-256 with PGPASSWORD';
  }
}

function serverSaid(f: ErrorFields): string {
  return `the server refused the login: ${f.severity} ${f.code}: ${f.message}${f.detail ? ` (${f.detail})` : ''}`;
}

/** The environment a gateway's ENVIRONMENT_MISMATCH names, to fill in the fix's --env (the refusal itself is known by its code). */
function requiredEnvironment(f: ErrorFields): string | undefined {
  return /requires environment "([^"]+)"/.exec(f.message)?.[1];
}

function upstreamSaid(f: ErrorFields, database: string): string {
  return `the gateway could not open a server connection to the PostgreSQL behind "${database}": ${f.severity} ${f.code}: ${f.message}${f.detail ? ` (${f.detail})` : ''}`;
}

function refusedLogin(f: ErrorFields, user: string, database: string, ctx: FixContext): StepResult {
  const m = f.message;
  const facts: FixFacts = { database, user };
  const upstream = upstreamVerdict(f, ctx, facts, false);
  if (upstream) return fail('login', upstream.code, upstreamSaid(f, database), upstream.fix);
  // pgmoat names the refusal by code; PostgreSQL's clientcert=verify-full is known by its wording.
  if (f.routine === 'CERT_ROLE_MISMATCH' || (f.code === '28000' && /certificate authentication failed|CN mismatch|does not match/i.test(m))) {
    const fix = ctx.name
      ? `connect as user "${ctx.name}" (the certificate's CN), or use a certificate issued for "${user}"`
      : `connect as the user named in the certificate's CN, or use a certificate issued for "${user}"`;
    return fail('login', 'ROLE_MISMATCH', serverSaid(f), fix);
  }
  if (f.routine === 'CERT_SAN_UNMAPPED' || f.routine === 'CERT_SAN_ROLE_MISMATCH') {
    return fail('login', 'SAN_NOT_MAPPED', serverSaid(f), `ask the gateway's operator to map this certificate's URI or DNS name to role "${user}" (an identity map entry uri:/dns: on the rule that matches database "${database}")`);
  }
  if (f.routine === 'ENVIRONMENT_MISMATCH') {
    const env = requiredEnvironment(f);
    const fix = fixes.issueForEnvironment(ctx, { ...facts, ...(env !== undefined ? { requiredEnvironment: env } : {}) });
    return fail('login', 'ENVIRONMENT_MISMATCH', serverSaid(f), f.hint ? `${fix} (${f.hint})` : fix);
  }
  if (f.code === '28000' && /no pg_hba\.conf entry/i.test(m)) {
    return fail('login', 'NO_HBA_ENTRY', serverSaid(f), `allow this connection in pg_hba.conf (a hostssl line for role "${user}", database "${database}" and this address), then reload the server`);
  }
  switch (f.code) {
    case '28000':
      return fail('login', 'ACCESS_DENIED', serverSaid(f), f.hint ?? `ask the gateway's operator to allow role "${user}" on database "${database}" for this identity`);
    case '28P01':
      return fail('login', 'WRONG_PASSWORD', serverSaid(f), `set PGPASSWORD to the password of role "${user}"`);
    case '3D000':
      return fail('login', 'NO_SUCH_DATABASE', serverSaid(f), 'connect to a database that exists: the /DATABASE part of the URI');
    case '53300':
      return fail('login', 'TOO_MANY_CONNECTIONS', serverSaid(f), 'close idle connections, or raise max_connections (or the pool size in the gateway)');
    case '57P03':
      return fail('login', 'SERVER_STARTING', serverSaid(f), 'wait until the server has finished starting, then run the doctor again');
    default:
      return fail('login', `SQLSTATE_${f.code}`, serverSaid(f), f.hint ?? "see the server's message: it names what is wrong");
  }
}

export interface LoginContext {
  user: string;
  database: string;
  timeoutMs: number;
  fix: FixContext;
}

/** Step 7 from the login's outcome (the callers handle outcomes that belong to step 6). */
export function loginResult(o: LoginOutcome, c: LoginContext): StepResult {
  switch (o.kind) {
    case 'ready': {
      const version = o.params.get('server_version');
      return ok('login', `logged in as "${c.user}" to "${c.database}" (${authWords(o.method)})${version ? `, server_version ${version}` : ''}`);
    }
    case 'error-response':
      return refusedLogin(o.fields, c.user, c.database, c.fix);
    case 'password-needed':
      return fail('login', 'PASSWORD_REQUIRED', `the server asks for a password (${o.method}) for role "${c.user}"`, `set PGPASSWORD to the password of role "${c.user}" (it is sent only after the server's certificate checked out)`);
    case 'auth-failed':
      return fail('login', 'AUTH_FAILED', `authentication (${o.method}) failed: ${o.message}`, `set PGPASSWORD to the password of role "${c.user}"`);
    case 'protocol':
      return fail('login', 'PROTOCOL_ERROR', o.message, 'check the port in the URI: it should be the pgmoat gateway or PostgreSQL');
    case 'timeout':
      return fail('login', 'LOGIN_TIMEOUT', `no answer to the login within ${Math.round(c.timeoutMs / 1000)} s`, "read the gateway's log: it may be waiting for a free server connection or for its upstream PostgreSQL");
    case 'closed':
      return fail('login', 'CLOSED_DURING_LOGIN', 'the server closed the connection during the login', "read the server's log for the reason");
    case 'tls-error':
      return fail('login', 'TLS_ERROR_DURING_LOGIN', `the connection failed during the login: ${o.error.code ?? o.error.message}`, "read the server's log for the reason");
  }
}

export interface QueryContext {
  user: string;
  database: string;
  timeoutMs: number;
  fix: FixContext;
}

/** Step 8 from the query's outcome: only rows mean that the whole path works. */
export function queryResult(o: QueryOutcome, c: QueryContext): StepResult {
  const facts: FixFacts = { database: c.database, user: c.user };
  switch (o.kind) {
    case 'rows':
      return ok('query', `${DOCTOR_QUERY} returned ${o.value ?? 'NULL'}`);
    case 'error': {
      const upstream = upstreamVerdict(o.fields, c.fix, facts, true);
      if (upstream) return fail('query', upstream.code, upstreamSaid(o.fields, c.database), upstream.fix);
      return fail('query', `SQLSTATE_${o.fields.code}`, `${DOCTOR_QUERY} failed: ${serverSaid(o.fields).replace(/^the server refused the login: /, '')}`, o.fields.hint ?? "see the server's message: it names what is wrong");
    }
    case 'timeout':
      return fail(
        'query',
        'QUERY_TIMEOUT',
        `no answer to ${DOCTOR_QUERY} within ${Math.round(c.timeoutMs / 1000)} s: a gateway waits for a server connection while its upstream is down or unreachable (up to query_wait_timeout)`,
        fixes.upstreamDown(c.fix, facts),
      );
    case 'closed':
      return fail('query', 'CLOSED_DURING_QUERY', `the server closed the connection before answering ${DOCTOR_QUERY}`, "read the server's log for the reason");
    case 'socket-error':
      return fail('query', 'CONNECTION_FAILED_DURING_QUERY', `the connection failed before the answer to ${DOCTOR_QUERY}: ${o.error.code ?? o.error.message}`, "read the server's log for the reason");
    case 'protocol':
      return fail('query', 'PROTOCOL_ERROR', o.message, 'check the port in the URI: it should be the pgmoat gateway or PostgreSQL');
  }
}
