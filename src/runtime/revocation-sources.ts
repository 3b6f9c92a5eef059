/**
 * Which revocation sources a configuration asks for, kept in step with it at start and at every
 * reload: the CRL file (`tls.crl`) and the CA's PostgreSQL store (`ca.store`, LISTENed for). The
 * rest of the gateway sees them through Revocations alone.
 */
import type { Logger } from 'pino';
import { CrlFileSource, NO_CRL_STATUS, type CrlFileSettings, type CrlStatus } from '../revocation/crl-file-source.js';
import { EMPTY_REVOCATION_LIST } from '../revocation/revocation-list.js';
import type { Revocations } from '../revocation/revocations.js';
import { StoreRevocationSource } from '../revocation/store-source.js';
import type { RuntimeConfig } from './runtime-config.js';

const CRL = 'crl';
const STORE = 'store';

function crlSettings(rc: RuntimeConfig): CrlFileSettings | undefined {
  if (!rc.crlPath || !rc.clientTls?.ca) return undefined;
  return { crlPath: rc.crlPath, statePath: rc.crlStatePath, caPem: rc.clientTls.ca };
}

function crlSource(revocations: Revocations): CrlFileSource | undefined {
  const s = revocations.get(CRL);
  return s instanceof CrlFileSource ? s : undefined;
}

/**
 * Brings `revocations` in line with `rc`: the CRL file source gets the list `rc` read (and keeps
 * its own when that one is older), appears when tls.crl is set, goes when it is not.
 */
export function configureRevocationSources(revocations: Revocations, rc: RuntimeConfig, log: Logger): void {
  const settings = crlSettings(rc);
  const crl = crlSource(revocations);
  if (!settings) revocations.delete(CRL);
  else if (crl) crl.reload(settings, rc.revocation);
  else revocations.set(new CrlFileSource(settings, rc.revocation, log));
  configureStoreSource(revocations, rc, log);
}

/**
 * The store source stays as it is while `ca.store` and its password file do not change (a reload
 * does not drop the LISTEN connection); a new URL gets a new source, which starts from the
 * store's whole list.
 */
function configureStoreSource(revocations: Revocations, rc: RuntimeConfig, log: Logger): void {
  const wanted = rc.store;
  const current = revocations.get(STORE);
  if (!wanted) return revocations.delete(STORE);
  if (current instanceof StoreRevocationSource && current.settings.url === wanted.url && current.settings.passwordFile === wanted.passwordFile) return;
  revocations.set(new StoreRevocationSource(wanted, log));
}

/** `rc` with the CRL list in force now (the watch replaces it without a reload). */
export function withCrlInForce(rc: RuntimeConfig, revocations: Revocations): RuntimeConfig {
  const list = crlSource(revocations)?.current ?? EMPTY_REVOCATION_LIST;
  return list === rc.revocation ? rc : { ...rc, revocation: list };
}

/** The CRL in force, its age and nextUpdate (for metrics and tests). */
export function crlStatus(revocations: Revocations): CrlStatus {
  return crlSource(revocations)?.status() ?? NO_CRL_STATUS;
}
