/**
 * Who may open the admin console (the virtual database `pgmoat`): a client whose certificate
 * verified, is not revoked or expired, whose CN is listed in `admin.identities`, and who logs in
 * as that CN. Nobody else, whatever the TLS mode: without a verified certificate there is no
 * admin identity. Refusals are FATAL 28000. The same check runs again before every command, so
 * that removing a CN from admin.identities (and RELOAD) or revoking its certificate takes effect
 * on open sessions too.
 */
import { identityName, type PeerIdentity } from '../tls/peer-identity.js';
import type { RuntimeConfig } from '../runtime/runtime-config.js';
import type { RevocationCheck } from '../revocation/source.js';
import { PgmoatError } from '../util/errors.js';
import { certRefusalError } from '../util/cert-refusal.js';

function refuse(code: 'ADMIN_NOT_ALLOWED' | 'ADMIN_USER_MISMATCH', message: string, hint: string): PgmoatError {
  return new PgmoatError(code, message, { hint });
}

/** Throws the refusal, or returns nothing when `identity` may use the console now. */
export function checkAdminIdentity(rc: RuntimeConfig, revocations: RevocationCheck, identity: PeerIdentity | undefined, now = Date.now()): asserts identity is PeerIdentity {
  if (!identity) {
    throw certRefusalError('no-certificate', {
      message: 'the admin console requires a verified client certificate',
      hint: 'Connect with sslmode=verify-full and a certificate whose CN is listed in admin.identities.',
    });
  }
  if (revocations.lookup(identity.serial)) throw certRefusalError('revoked');
  if (now > identity.notAfter.getTime()) throw certRefusalError('expired');
  // Admin identities are CNs: a certificate without one (SAN identity only) is never an admin.
  if (identity.cn === undefined || !rc.config.admin.identities.includes(identity.cn)) {
    throw refuse('ADMIN_NOT_ALLOWED', `certificate identity "${identityName(identity)}" may not use the admin console`, 'Admin identities are listed by CN in admin.identities.');
  }
}

/** The login decision: the verified identity, which must also be the user name asked for. */
export function decideAdminLogin(rc: RuntimeConfig, revocations: RevocationCheck, identity: PeerIdentity | undefined, user: string | undefined): PeerIdentity {
  checkAdminIdentity(rc, revocations, identity);
  if (identity.cn === undefined || user !== identity.cn) {
    throw refuse('ADMIN_USER_MISMATCH', `the admin console requires user "${identity.cn}", the certificate's CN`, `Connect as user "${identity.cn}".`);
  }
  return identity;
}
