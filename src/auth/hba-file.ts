/**
 * A pg_hba.conf-format rule file, as PgBouncer's auth_hba_file accepts it, parsed into typed
 * rules (first match wins; matching is in hba-match.ts). What pgmoat cannot honour is refused
 * with a message naming the line, never ignored: a rule silently dropped could turn a
 * `reject` into a fall-through to a permissive rule.
 */
import { PgmoatError } from '../util/errors.js';
import { parseAddrMask, parseCidr, parseIp, type Cidr } from './cidr.js';
import { ConfSyntaxError, showToken, tokenizeConf, type ConfField, type ConfToken } from './conf-tokenizer.js';

export type HbaConnType = 'local' | 'host' | 'hostssl' | 'hostnossl';
export type HbaMethod = 'trust' | 'reject' | 'md5' | 'password' | 'scram-sha-256' | 'cert';

export type HbaRegex = { kind: 'regex'; pattern: string; regex: RegExp };
export type HbaDatabase =
  | { kind: 'all' }
  | { kind: 'sameuser' }
  | { kind: 'samerole' }
  | { kind: 'replication' }
  | { kind: 'name'; name: string }
  | HbaRegex;
export type HbaUser = { kind: 'all' } | { kind: 'name'; name: string } | { kind: 'group'; role: string } | HbaRegex;
export type HbaAddress = { kind: 'all' } | { kind: 'cidr'; cidr: Cidr };

export interface HbaRule {
  line: number;
  connType: HbaConnType;
  databases: HbaDatabase[];
  users: HbaUser[];
  /** Absent for `local` rules. */
  address?: HbaAddress;
  method: HbaMethod;
  options: Record<string, string>;
}

export interface HbaParseOptions {
  /** Shown in error messages; default "pg_hba.conf". */
  fileName?: string;
}

const CONN_TYPES: readonly string[] = ['local', 'host', 'hostssl', 'hostnossl'];
const METHODS: readonly string[] = ['trust', 'reject', 'md5', 'password', 'scram-sha-256', 'cert'];
const UNSUPPORTED_METHODS: readonly string[] = ['ident', 'peer', 'gss', 'sspi', 'pam', 'ldap', 'radius', 'bsd', 'oauth', 'krb5'];
const INCLUDE_DIRECTIVES: readonly string[] = ['include', 'include_if_exists', 'include_dir'];

class LineError extends Error {}

function fail(message: string): never {
  throw new LineError(message);
}

function single(field: ConfField, what: string): ConfToken {
  if (field.length !== 1) fail(`multiple values specified for ${what}`);
  return field[0]!;
}

function compileRegex(token: ConfToken): HbaRegex {
  const pattern = token.value.slice(1);
  try {
    return { kind: 'regex', pattern, regex: new RegExp(pattern) };
  } catch (err) {
    return fail(`invalid regular expression ${showToken(token)}: ${(err as Error).message}`);
  }
}

function atFileUnsupported(token: ConfToken): never {
  return fail(`${showToken(token)}: "@file" inclusion of names is not supported; list the names inline (comma-separated)`);
}

function parseDatabase(token: ConfToken): HbaDatabase {
  if (!token.quoted) {
    switch (token.value) {
      case 'all':
        return { kind: 'all' };
      case 'sameuser':
        return { kind: 'sameuser' };
      case 'samerole':
      case 'samegroup':
        return { kind: 'samerole' };
      case 'replication':
        return { kind: 'replication' };
    }
    if (token.value.startsWith('@')) atFileUnsupported(token);
  }
  if (token.value.startsWith('/')) return compileRegex(token);
  if (token.value === '') fail('empty database name');
  return { kind: 'name', name: token.value };
}

function parseUser(token: ConfToken): HbaUser {
  if (!token.quoted) {
    if (token.value === 'all') return { kind: 'all' };
    if (token.value.startsWith('@')) atFileUnsupported(token);
    if (token.value.startsWith('+')) {
      if (token.value.length === 1) fail('"+" must be followed by a role name');
      return { kind: 'group', role: token.value.slice(1) };
    }
  }
  if (token.value.startsWith('/')) return compileRegex(token);
  if (token.value === '') fail('empty user name');
  return { kind: 'name', name: token.value };
}

/** Consumes the address field (and the mask field of the two-field form). */
function parseAddress(fields: ConfField[], at: number): { address: HbaAddress; next: number } {
  const field = fields[at];
  if (!field) fail('end-of-line before IP address specification');
  const token = single(field, 'host address');
  if (!token.quoted && token.value === 'all') return { address: { kind: 'all' }, next: at + 1 };
  if (!token.quoted && (token.value === 'samehost' || token.value === 'samenet')) {
    fail(`"${token.value}" is not supported: pgmoat does not enumerate network interfaces; write the CIDR explicitly`);
  }
  try {
    if (token.value.includes('/')) return { address: { kind: 'cidr', cidr: parseCidr(token.value) }, next: at + 1 };
    if (!parseIp(token.value)) {
      fail(`${showToken(token)} is not an IP address; host names are not supported, use an address or CIDR`);
    }
    const maskField = fields[at + 1];
    if (!maskField) fail('end-of-line before netmask specification (write "address/prefix" or "address mask")');
    const mask = single(maskField, 'netmask');
    return { address: { kind: 'cidr', cidr: parseAddrMask(token.value, mask.value) }, next: at + 2 };
  } catch (err) {
    if (err instanceof PgmoatError) fail(err.message);
    throw err;
  }
}

function parseOptions(fields: ConfField[], connType: HbaConnType, method: HbaMethod): Record<string, string> {
  const options: Record<string, string> = {};
  for (const field of fields) {
    const token = single(field, 'an authentication option (values cannot be comma lists)');
    const eq = token.value.indexOf('=');
    if (eq <= 0 || eq === token.value.length - 1) fail(`authentication option not in name=value format: ${showToken(token)}`);
    const name = token.value.slice(0, eq);
    const value = token.value.slice(eq + 1);
    if (name in options) fail(`authentication option "${name}" is given twice`);
    switch (name) {
      case 'clientcert':
        if (connType !== 'hostssl') fail('clientcert can only be configured for "hostssl" rows');
        if (value !== 'verify-ca' && value !== 'verify-full') fail('invalid value for clientcert: use "verify-ca" or "verify-full"');
        if (method === 'cert' && value !== 'verify-full') fail('clientcert only accepts "verify-full" when using "cert" authentication');
        break;
      case 'clientname':
        if (connType !== 'hostssl') fail('clientname can only be configured for "hostssl" rows');
        if (value !== 'CN' && value !== 'DN') fail('invalid value for clientname: use "CN" or "DN"');
        break;
      case 'map':
        if (method !== 'cert') fail('authentication option "map" is only valid for authentication method cert');
        break;
      default:
        fail(`unrecognized authentication option name: "${name}"`);
    }
    options[name] = value;
  }
  return options;
}

function parseRule(line: number, fields: ConfField[]): HbaRule {
  const typeToken = single(fields[0]!, 'connection type');
  const type = typeToken.value;
  if (INCLUDE_DIRECTIVES.includes(type)) fail(`"${type}" directives are not supported; put all rules in one file`);
  if (type === 'hostgssenc' || type === 'hostnogssenc') fail(`connection type "${type}" is not supported: pgmoat does not do GSSAPI encryption`);
  if (!CONN_TYPES.includes(type) || typeToken.quoted) fail(`invalid connection type ${showToken(typeToken)}`);
  const connType = type as HbaConnType;
  if (!fields[1]) fail('end-of-line before database specification');
  const databases = fields[1].map(parseDatabase);
  if (!fields[2]) fail('end-of-line before role specification');
  const users = fields[2].map(parseUser);
  let next = 3;
  let address: HbaAddress | undefined;
  if (connType !== 'local') ({ address, next } = parseAddress(fields, 3));
  const methodField = fields[next];
  if (!methodField) fail('end-of-line before authentication method');
  const methodToken = single(methodField, 'authentication type');
  const m = methodToken.value;
  if (UNSUPPORTED_METHODS.includes(m)) fail(`authentication method "${m}" is not supported by pgmoat (supported: ${METHODS.join(', ')})`);
  if (!METHODS.includes(m)) fail(`invalid authentication method ${showToken(methodToken)}`);
  const method = m as HbaMethod;
  if (method === 'cert' && connType !== 'hostssl') fail('cert authentication is only supported on hostssl connections');
  const options = parseOptions(fields.slice(next + 1), connType, method);
  const rule: HbaRule = { line, connType, databases, users, method, options };
  if (address) rule.address = address;
  return rule;
}

export function parseHbaFile(text: string, options: HbaParseOptions = {}): HbaRule[] {
  const file = options.fileName ?? 'pg_hba.conf';
  let line = 0;
  try {
    return tokenizeConf(text).map((record) => {
      line = record.line;
      return parseRule(record.line, record.fields);
    });
  } catch (err) {
    if (err instanceof ConfSyntaxError) throw new PgmoatError('HBA_INVALID', `${file} line ${err.line}: ${err.message}`);
    if (err instanceof LineError) throw new PgmoatError('HBA_INVALID', `${file} line ${line}: ${err.message}`);
    throw err;
  }
}
