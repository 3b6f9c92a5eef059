/** Step 4: is the server's certificate one this client should trust, for this host, today? */
import { checkServerIdentity } from 'node:tls';
import type { CaMaterial } from './material.js';
import type { PeerChain } from './tls-handshake.js';
import { fixes } from './fixes.js';
import { fail, ok, warn, type StepResult } from './types.js';
import { chainsTo, daysLeft, expiryText, hostNames, shortName } from './x509-facts.js';

const NO_CLIENT = { name: undefined, environment: undefined, certPath: undefined, keyPath: undefined };

/** Fewer days than this left on a certificate earns a warning. */
export const EXPIRY_WARNING_DAYS = 14;

const UNKNOWN_ISSUER = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
]);

function caText(ca: CaMaterial): string {
  switch (ca.kind) {
    case 'file':
      return `${ca.certs.map((c) => shortName(c.subject)).join(', ')} from ${ca.origin}`;
    case 'system':
      return "the system's CA store";
    case 'none':
      return "Node's default CA store (no --ca was given)";
  }
}

export function checkServerCertificate(server: PeerChain, verifyError: string | undefined, host: string, ca: CaMaterial, now: Date): StepResult {
  const leaf = server.chain[0]!;
  const name = shortName(leaf.subject);
  const issuer = shortName(leaf.issuer);
  if (verifyError !== undefined) {
    if (verifyError === 'CERT_HAS_EXPIRED') {
      return fail('server-certificate', 'SERVER_CERT_EXPIRED', `the server's certificate ${name} ${expiryText(leaf, now)}`, fixes.renewServer());
    }
    if (verifyError === 'CERT_NOT_YET_VALID') {
      return fail('server-certificate', 'SERVER_CERT_NOT_YET_VALID', `the server's certificate ${name} is not valid until ${new Date(leaf.validFrom).toISOString()}`, fixes.checkClock());
    }
    if (UNKNOWN_ISSUER.has(verifyError)) {
      const fix = fixes.useGatewayCa();
      return fail('server-certificate', 'SERVER_CERT_UNTRUSTED', `the server's certificate ${name} was issued by ${issuer}, which ${caText(ca)} does not vouch for (${verifyError})`, fix);
    }
    return fail('server-certificate', 'SERVER_CERT_INVALID', `the server's certificate ${name} did not verify against ${caText(ca)}: ${verifyError}`, fixes.useGatewayCa());
  }
  const identityError = checkServerIdentity(host, server.peer);
  if (identityError) {
    const names = hostNames(leaf);
    const fix = fixes.hostMismatch(NO_CLIENT, { host, hostNames: names });
    return fail('server-certificate', 'HOSTNAME_MISMATCH', `the server's certificate ${name} is not valid for "${host}" (it names ${names.length ? names.join(', ') : 'no host at all'})`, fix);
  }
  const anchor = ca.kind === 'file' ? chainsTo(leaf, server.chain.slice(1), ca.certs) : undefined;
  const via = anchor?.ok ? `chains to ${shortName(anchor.anchor.subject)}` : `trusted by ${caText(ca)}`;
  const detail = `${name}, ${via}, valid for ${host}, ${expiryText(leaf, now)}`;
  if (daysLeft(leaf, now) < EXPIRY_WARNING_DAYS) return warn('server-certificate', `${detail}: renew it soon (pgmoat issue-server)`, 'SERVER_CERT_EXPIRES_SOON');
  return ok('server-certificate', detail);
}

/** The handshake failed before a server certificate could be checked. */
export function noServerCertificate(words: string, fix: string, code: string): StepResult {
  return fail('server-certificate', code, `the TLS handshake failed before the server's certificate could be checked: ${words}`, fix);
}
