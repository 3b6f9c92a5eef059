/**
 * How an identity (application name + environment) is carried in a client certificate.
 * Subject: CN=<name>, OU=<environment>, O=<CA name>; SAN: URI pgmoat://<environment>/<name>.
 * The gateway reads the environment from the URI SAN first, then from OU.
 */
import { PgmoatError } from '../util/errors.js';

const IDENTITY_URI_SCHEME = 'pgmoat';

/** 1-63 characters, no path separators, whitespace or control characters, no leading '.' or '-'. */
const IDENTITY_PART = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,62}$/;

export function isValidIdentityPart(value: string): boolean {
  return IDENTITY_PART.test(value);
}

/** Quotes a user-supplied value for an error message without letting control characters through. */
export function quote(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}...` : value);
}

export function validateIdentityPart(kind: 'name' | 'environment', value: string): string {
  if (!isValidIdentityPart(value)) {
    throw new PgmoatError(
      kind === 'name' ? 'INVALID_NAME' : 'INVALID_ENVIRONMENT',
      `invalid ${kind} ${quote(value)}: use 1-63 characters of letters, digits, '.', '_' and '-', not starting with '.' or '-'`,
    );
  }
  return value;
}

export function environmentUri(environment: string, name: string): string {
  validateIdentityPart('environment', environment);
  validateIdentityPart('name', name);
  return `${IDENTITY_URI_SCHEME}://${environment}/${name}`;
}

/** The identity in a pgmoat URI SAN, or undefined when the URI is not one pgmoat wrote. */
export function parseIdentityUri(uri: string): { environment: string; name: string } | undefined {
  const prefix = `${IDENTITY_URI_SCHEME}://`;
  if (!uri.startsWith(prefix)) return undefined;
  const rest = uri.slice(prefix.length);
  const slash = rest.indexOf('/');
  if (slash < 0) return undefined;
  const environment = rest.slice(0, slash);
  const name = rest.slice(slash + 1);
  if (!isValidIdentityPart(environment) || !isValidIdentityPart(name)) return undefined;
  return { environment, name };
}
