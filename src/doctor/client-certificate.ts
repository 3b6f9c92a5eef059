/**
 * Step 5: the client certificate and key, checked on this machine before the server sees them:
 * validity, clientAuth usage, the key (permissions, passphrase, match), and the issuing CA.
 */
import { statSync } from 'node:fs';
import { normalizeSerial } from '../util/serial.js';
import type { ClientErrorCode } from '@pgmoat/client/internal';
import type { CaMaterial, ClientLoad } from './material.js';
import { fixes, type FixContext } from './fixes.js';
import { EXPIRY_WARNING_DAYS } from './server-certificate.js';
import { fail, ok, warn, type StepResult } from './types.js';
import { certIdentity, chainsTo, daysLeft, expiryText, shortName } from './x509-facts.js';

const CLIENT_AUTH_OID = '1.3.6.1.5.5.7.3.2';

/** What the fixes can fill in from whatever was read. */
export function fixContext(load: ClientLoad): FixContext {
  switch (load.kind) {
    case 'none':
      return { name: undefined, environment: undefined, certPath: undefined, keyPath: undefined };
    case 'error': {
      const leaf = load.certs?.[0];
      const id = leaf ? certIdentity(leaf) : { cn: undefined, environment: undefined };
      return { name: id.cn, environment: id.environment, certPath: load.certPath, keyPath: load.keyPath };
    }
    case 'loaded': {
      const id = certIdentity(load.material.certs[0]!);
      const certPath = /\((.*)\)$/.exec(load.material.certOrigin)?.[1];
      return { name: id.cn, environment: id.environment, certPath, keyPath: load.material.keyPath };
    }
  }
}

function fixFor(code: ClientErrorCode, ctx: FixContext): string {
  switch (code) {
    case 'MISSING_VARIABLE':
      return fixes.passCertAndKey(ctx);
    case 'CERT_EXPIRED':
      return fixes.renew(ctx);
    case 'CERT_NOT_YET_VALID':
      return fixes.checkClock();
    case 'CERT_NOT_FOR_CLIENT':
      return fixes.issueClientCert(ctx);
    case 'KEY_MISMATCH':
      return fixes.matchingKey(ctx);
    case 'PASSPHRASE_REQUIRED':
    case 'WRONG_PASSPHRASE':
      return fixes.passphrase();
    case 'KEY_PERMISSIONS':
      return fixes.chmodKey(ctx);
    case 'FOLLOW_NEEDS_FILES':
      return 'name the certificate and key files with PGSSLCERT and PGSSLKEY instead of the base64 variables';
    case 'INVALID_BASE64':
    case 'NOT_PEM':
    case 'INVALID_CERTIFICATE':
    case 'INVALID_KEY':
    case 'FILE_UNREADABLE':
      return fixes.rereadFiles(ctx);
  }
}

function keyFileMode(path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  try {
    return (statSync(path).mode & 0o777).toString(8).padStart(4, '0');
  } catch {
    return undefined;
  }
}

/**
 * `ca` is what the gateway's certificate chains to; `clientCa`, when given, is the CA the
 * gateway trusts for client certificates. Without it, a certificate from another CA than `ca`
 * only earns a warning: some servers trust a different CA for clients than the one they use.
 */
export function checkClientCertificate(load: ClientLoad, ca: CaMaterial, clientCa: CaMaterial | undefined, now: Date): StepResult {
  const ctx = fixContext(load);
  if (load.kind === 'none') {
    return warn('client-certificate', 'no client certificate given (--cert/--key, PGCLIENT_CERT_B64/PGCLIENT_KEY_B64 or PGSSLCERT/PGSSLKEY): fine only if the server does not ask for one', 'NO_CLIENT_CERT');
  }
  if (load.kind === 'error') {
    const detail = load.error.message.replace(/; (run: |renew it ).*$/, '');
    return fail('client-certificate', load.error.code, detail, fixFor(load.error.code, ctx));
  }
  const m = load.material;
  const leaf = m.certs[0]!;
  const id = certIdentity(leaf);
  const facts: string[] = [`${shortName(leaf.subject)}${id.environment ? ` (${id.environment})` : ''}, serial ${normalizeSerial(leaf.serialNumber)}`];
  const eku = leaf.keyUsage as string[] | undefined;
  facts.push(Array.isArray(eku) && eku.includes(CLIENT_AUTH_OID) ? 'for client use' : 'no extended key usage restriction');
  facts.push('key matches');
  if (m.passphrase !== undefined) facts.push('key decrypted');
  const mode = keyFileMode(m.keyPath);
  if (mode !== undefined) facts.push(`key file ${mode}`);

  const anchors = clientCa ?? ca;
  let caWarning: string | undefined;
  if (anchors.kind === 'file') {
    const chain = chainsTo(leaf, m.certs.slice(1), anchors.certs);
    if (chain.ok) {
      facts.push(`issued by ${shortName(chain.anchor.subject)}`);
    } else if (clientCa) {
      return fail(
        'client-certificate',
        'CLIENT_CERT_WRONG_CA',
        `${shortName(leaf.subject)} was issued by ${chain.issuer}, not by the CA the gateway trusts (${anchors.origin}: ${anchors.certs.map((c) => shortName(c.subject)).join(', ')})`,
        fixes.issueFromGatewayCa(ctx),
      );
    } else {
      caWarning = `issued by ${chain.issuer}, not by the CA given with --ca; the server must trust ${chain.issuer} (pass --client-ca to check)`;
      facts.push(caWarning);
    }
  }
  facts.push(expiryText(leaf, now));
  const detail = facts.join(', ');
  if (caWarning) return warn('client-certificate', detail, 'CLIENT_CERT_OTHER_CA');
  if (daysLeft(leaf, now) < EXPIRY_WARNING_DAYS) return warn('client-certificate', `${detail}: renew it soon (pgmoat renew)`, 'CLIENT_CERT_EXPIRES_SOON');
  return ok('client-certificate', detail);
}
