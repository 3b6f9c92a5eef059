/**
 * What the gateway does when a watched set of TLS files changed and checks out
 * (runtime/tls-watches.ts): the runtime configuration takes the new material, and only new
 * handshakes and new server connections use it; established sessions keep theirs.
 */
import { createSecureContext } from 'node:tls';
import type { Logger } from 'pino';
import type { Pool } from '../pool/pool.js';
import type { Revocations } from '../revocation/revocations.js';
import { configureRevocationSources } from '../runtime/revocation-sources.js';
import { upstreamTarget, type RuntimeConfig } from '../runtime/runtime-config.js';
import type { ClientTlsEndpoint } from '../tls/client-tls-endpoint.js';
import type { TlsMaterialText } from '../tls/tls-material.js';

/** `before` with the files that changed replaced. */
function withMaterial<T extends TlsMaterialText>(before: T, next: TlsMaterialText): T {
  return { ...before, cert: next.cert ?? before.cert, key: next.key ?? before.key, ca: next.ca ?? before.ca, passphrase: next.passphrase ?? before.passphrase };
}

/**
 * The client-side files: new handshakes get the new context. A new CA bundle also verifies the
 * CRLs to come and changes the ticket keys (ticketKeysFor).
 */
export function applyClientTlsFiles(rc: RuntimeConfig, next: TlsMaterialText, tls: ClientTlsEndpoint, revocations: Revocations, log: Logger): RuntimeConfig {
  const before = rc.clientTls;
  if (!before) return rc;
  const clientTls = withMaterial(before, next);
  tls.configure(clientTls, rc.config.client_login_timeout);
  const changed = { ...rc, clientTls };
  if (clientTls.ca !== before.ca) configureRevocationSources(revocations, changed, log);
  return changed;
}

/** A database's upstream files: server connections opened from now on use them. */
export function applyUpstreamTlsFiles(rc: RuntimeConfig, database: string, next: TlsMaterialText, pools: Iterable<Pool>): RuntimeConfig {
  const before = rc.upstreamTls.get(database);
  if (!before) return rc;
  const tls = withMaterial(before, next);
  // What OpenSSL would refuse at the next connect is refused now, and the set in force stays.
  createSecureContext({
    ...(tls.cert !== undefined ? { cert: tls.cert } : {}),
    ...(tls.key !== undefined ? { key: tls.key } : {}),
    ...(tls.passphrase !== undefined ? { passphrase: tls.passphrase } : {}),
    ...(tls.ca !== undefined ? { ca: tls.ca } : {}),
  });
  const changed = { ...rc, upstreamTls: new Map(rc.upstreamTls).set(database, tls) };
  for (const pool of pools) {
    if (pool.database === database) pool.target = upstreamTarget(changed, database, pool.role);
  }
  return changed;
}
