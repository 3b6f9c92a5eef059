/**
 * Extra subject alternative names of a client certificate (`pgmoat issue --san`): DNS names and
 * URIs such as SPIFFE IDs, the names SPIRE, cert-manager and Vault PKI put in workload
 * certificates. The pgmoat:// URI that carries the environment is pgmoat's alone.
 */
import { X509Certificate } from 'node:crypto';
import { PgmoatError } from '../util/errors.js';
import { quote } from './identity-format.js';

export interface ExtraSan {
  type: 'dns' | 'url';
  value: string;
}

export const MAX_EXTRA_SANS = 16;
const MAX_URI_LENGTH = 2048;
const DNS_LABEL = '[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?';
const DNS_NAME = new RegExp(`^${DNS_LABEL}(?:\\.${DNS_LABEL})*$`);
// SPIFFE ID (spiffe.io standard): lowercase trust domain; path segments of letters, digits, '.', '-', '_'.
const SPIFFE_ID = /^spiffe:\/\/[a-z0-9._-]{1,255}(?:\/[A-Za-z0-9._-]+)*$/;

function invalid(value: string, why: string): PgmoatError {
  return new PgmoatError('INVALID_SAN', `invalid --san ${quote(value)}: ${why}`);
}

export function parseSan(value: string): ExtraSan {
  const colon = value.indexOf(':');
  const kind = colon < 0 ? '' : value.slice(0, colon).toUpperCase();
  const rest = colon < 0 ? '' : value.slice(colon + 1);
  if (kind === 'DNS') {
    const name = rest.toLowerCase();
    if (name.length > 253 || !DNS_NAME.test(name)) throw invalid(value, 'DNS: needs a host name such as api.internal (no wildcard)');
    return { type: 'dns', value: name };
  }
  if (kind === 'URI') {
    // No ',' '"' or '\\': Node and OpenSSL print SAN lists comma-separated, and quote such values.
    if (rest.length > MAX_URI_LENGTH || !/^[\x21-\x7e]+$/.test(rest) || /[,"\\]/.test(rest)) {
      throw invalid(value, 'URI: needs printable ASCII without spaces, commas, quotes or backslashes');
    }
    let url: URL;
    try {
      url = new URL(rest);
    } catch {
      throw invalid(value, 'URI: is not an absolute URI (scheme://...)');
    }
    const scheme = url.protocol.slice(0, -1).toLowerCase();
    if (scheme === 'pgmoat') throw invalid(value, 'pgmoat:// URIs are written by pgmoat from NAME and --env');
    if (scheme === 'spiffe') {
      if (!SPIFFE_ID.test(rest) || rest.split('/').slice(3).some((s) => s === '.' || s === '..')) {
        throw invalid(value, 'not a SPIFFE ID: spiffe://trust-domain/path, lowercase trust domain, path of letters, digits, ".", "-", "_", no query or fragment');
      }
    }
    return { type: 'url', value: rest };
  }
  throw invalid(value, 'use DNS:<name> or URI:<uri>');
}

/** Parsed, deduplicated, in the order given. */
export function parseSans(values: readonly string[] | undefined): ExtraSan[] {
  const out: ExtraSan[] = [];
  const seen = new Set<string>();
  for (const v of values ?? []) {
    const san = parseSan(v);
    const key = `${san.type}:${san.value}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(san);
  }
  if (out.length > MAX_EXTRA_SANS) throw new PgmoatError('INVALID_SAN', `at most ${MAX_EXTRA_SANS} --san values per certificate`);
  return out;
}

/** Every SAN of a certificate as OpenSSL prints it (DNS:x, URI:y, IP Address:z). */
export function sansOfCertificate(pem: string): string[] {
  let san: string | undefined;
  try {
    san = new X509Certificate(pem).subjectAltName;
  } catch {
    return [];
  }
  return san ? san.split(', ') : [];
}

/** The extra SANs of a client certificate pgmoat issued (its pgmoat:// URI left out). */
export function extraSansOfCertificate(pem: string): ExtraSan[] {
  const out: ExtraSan[] = [];
  for (const s of sansOfCertificate(pem)) {
    if (s.startsWith('DNS:')) out.push({ type: 'dns', value: s.slice(4) });
    else if (s.startsWith('URI:') && !s.startsWith('URI:pgmoat://')) out.push({ type: 'url', value: s.slice(4) });
  }
  return out;
}
