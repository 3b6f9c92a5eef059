/**
 * The configuration as the gateway runs it: every PEM, passphrase and CRL read and checked, so
 * that a reload either yields a whole new RuntimeConfig or fails and leaves the running one.
 */
import type { Config, DatabaseConfig } from '../config/schema.js';
import { poolSettingsFor, type PoolSettings } from '../config/effective.js';
import { resolvePassword } from '../config/secrets.js';
import type { LoadedConfig } from '../config/load.js';
import { readPrivateFile, readSecretFile } from '../util/private-file.js';
import { redactUrl } from '../util/redact-url.js';
import type { StoreSourceSettings } from '../revocation/store-source.js';
import { PgmoatError } from '../util/errors.js';
import type { ClientTlsSettings } from '../tls/client-tls.js';
import { checkTlsMaterial, leafSummary, type TlsMaterialText } from '../tls/tls-material.js';
import { EMPTY_REVOCATION_LIST, loadRevocationList, type RevocationList } from '../revocation/revocation-list.js';
import { admitRevocationList } from '../revocation/crl-admission.js';
import { defaultCrlStatePath } from '../revocation/crl-state.js';
import type { UpstreamTarget, UpstreamTls } from '../upstream/target.js';
import { buildAccessRuntime, type AccessRuntime } from './access-runtime.js';
import { shareConfig, sharePoolSettings, type WorkerShare } from './worker-share.js';
import { readTextFile } from '../util/file-problem.js';

export interface RuntimeConfig {
  readonly config: Config;
  readonly path: string;
  readonly clientTls: ClientTlsSettings | undefined;
  /**
   * The CRL list in force: the one read with this configuration, then whatever the CRL file
   * source (revocation/crl-file-source.ts) put in force since (runtime/revocation-sources.ts).
   */
  readonly revocation: RevocationList;
  readonly crlPath: string | undefined;
  /** Where the newest CRL per issuer is recorded (tls.crl_state_file, else beside tls.crl). */
  readonly crlStatePath: string | undefined;
  /** Upstream TLS material per database, read once. */
  readonly upstreamTls: ReadonlyMap<string, UpstreamTls>;
  readonly passwords: ReadonlyMap<string, string | undefined>;
  /** Access rules, identity maps and client secrets (access-runtime.ts). */
  readonly access: AccessRuntime;
  /** Under `serve --workers N`: this worker's part of the pool sizes and limits (runtime/worker-share.ts). */
  readonly share?: WorkerShare | undefined;
  /** `ca.store`: where revocations are LISTENed for (revocation/store-source.ts); undefined without one. */
  readonly store?: StoreSourceSettings | undefined;
}

/** `ca.store` as the revocation source connects to it; the password file is read now (a bad one stops the start or the reload) and again at every connection attempt. */
function storeSettings(c: Config): StoreSourceSettings | undefined {
  const ca = c.ca;
  if (!ca) return undefined;
  const file = ca.password_file;
  if (file !== undefined) readSecretFile(file, 'ca.password_file');
  return { url: ca.store, where: redactUrl(ca.store), passwordFile: file, password: () => (file === undefined ? undefined : readSecretFile(file, 'ca.password_file')) };
}


function upstreamTls(name: string, db: DatabaseConfig): UpstreamTls {
  const t = db.tls;
  return {
    mode: t.mode,
    ca: t.ca ? readTextFile(t.ca, `databases.${name}.tls.ca`) : undefined,
    cert: t.cert ? readTextFile(t.cert, `databases.${name}.tls.cert`) : undefined,
    key: t.key ? readPrivateFile(t.key, `databases.${name}.tls.key`).toString('utf8') : undefined,
    passphrase: t.key_passphrase_file ? readSecretFile(t.key_passphrase_file, `databases.${name}.tls.key_passphrase_file`) : undefined,
    servername: t.servername,
    minVersion: t.min_version,
  };
}

export interface BuildOptions {
  /**
   * The revocation list of the running gateway (a reload): the new CRL must not be older than
   * it, even when the state file could not be written.
   */
  inForce?: RevocationList | undefined;
  /**
   * The TLS sets of the running gateway (a reload): a new certificate, for clients or for an
   * upstream, must be within its validity and not older than the one in force, as the file
   * watch requires (runtime/tls-file-watch.ts). Without it (at start) only the pair is checked.
   */
  running?: { clientTls?: TlsMaterialText | undefined; upstreamTls?: ReadonlyMap<string, TlsMaterialText> | undefined } | undefined;
}

/** At a reload, the checks the file watch makes; at start, the pair alone (an expired certificate is OpenSSL's to serve). */
function checkSet(m: TlsMaterialText, what: string, running: TlsMaterialText | undefined, reload: boolean): void {
  const names = { cert: `${what}.cert`, key: `${what}.key`, ca: `${what}.ca` };
  if (!reload) checkTlsMaterial(m, names, { refuseExpired: false });
  else checkTlsMaterial(m, names, { inForce: leafSummary(running?.cert) });
}

/**
 * With `share` (a cluster worker), max_client_conn and every pool's sizes are that worker's part.
 * Throws CRL_ROLLBACK when tls.crl is older than the newest CRL enforced before (crl-admission.ts):
 * at start the gateway then does not start, at a reload the reload is refused.
 */
export async function buildRuntimeConfig(loaded: LoadedConfig, share?: WorkerShare, opts: BuildOptions = {}): Promise<RuntimeConfig> {
  const c = share ? shareConfig(loaded.config, share) : loaded.config;
  let clientTls: ClientTlsSettings | undefined;
  let revocation = EMPTY_REVOCATION_LIST;
  const crlStatePath = c.tls.crl ? (c.tls.crl_state_file ?? defaultCrlStatePath(c.tls.crl)) : undefined;
  if (c.tls.mode !== 'disable') {
    const ca = c.tls.ca ? readTextFile(c.tls.ca, 'tls.ca') : undefined;
    clientTls = {
      mode: c.tls.mode,
      cert: readTextFile(c.tls.cert!, 'tls.cert'),
      key: readPrivateFile(c.tls.key!, 'tls.key').toString('utf8'),
      passphrase: c.tls.key_passphrase_file ? readSecretFile(c.tls.key_passphrase_file, 'tls.key_passphrase_file') : undefined,
      ca,
      minVersion: c.tls.min_version,
      maxVersion: c.tls.max_version,
      ciphers: c.tls.ciphers,
      ciphersuites: c.tls.ciphersuites,
      groups: c.tls.groups,
      sessionTickets: c.tls.session_tickets,
    };
    // A pair caught between its two writes is refused with a clear code (KEY_MISMATCH), at start
    // and at a reload, rather than by OpenSSL's "key values mismatch" halfway through a reload;
    // at a reload an expired, not yet valid or older certificate too (the reload is refused).
    checkSet({ cert: clientTls.cert, key: clientTls.key, passphrase: clientTls.passphrase }, 'tls', opts.running?.clientTls, opts.running !== undefined);
    if (c.tls.crl) {
      if (!ca) throw new PgmoatError('CONFIG_INVALID', 'tls.crl is set but tls.ca is not: the CRL is verified against the CA bundle');
      const list = await loadRevocationList(readTextFile(c.tls.crl, 'tls.crl'), ca, c.tls.crl);
      revocation = admitRevocationList(list, { crlPath: c.tls.crl, statePath: crlStatePath, caPem: ca, inForce: opts.inForce });
    }
  }
  const tlsByDb = new Map<string, UpstreamTls>();
  const passwords = new Map<string, string | undefined>();
  for (const [name, db] of Object.entries(c.databases)) {
    const u = upstreamTls(name, db);
    if (u.cert !== undefined) checkSet({ cert: u.cert, key: u.key, passphrase: u.passphrase }, `databases.${name}.tls`, opts.running?.upstreamTls?.get(name), opts.running !== undefined);
    tlsByDb.set(name, u);
    passwords.set(name, resolvePassword(db));
  }
  const access = await buildAccessRuntime(c, loaded.path, clientTls?.key);
  return { config: c, path: loaded.path, clientTls, revocation, crlPath: c.tls.crl, crlStatePath, upstreamTls: tlsByDb, passwords, access, share, store: storeSettings(c) };
}

export function upstreamTarget(rc: RuntimeConfig, dbName: string, role: string): UpstreamTarget {
  const db = rc.config.databases[dbName]!;
  const settings = poolSettingsFor(rc.config, dbName, role);
  return {
    label: dbName,
    host: db.host,
    port: db.port,
    dbname: db.dbname,
    user: role,
    password: rc.passwords.get(dbName),
    tls: rc.upstreamTls.get(dbName)!,
    connectTimeoutMs: settings.serverConnectTimeout,
  };
}

export function poolSettings(rc: RuntimeConfig, dbName: string, role: string): PoolSettings {
  const settings = poolSettingsFor(rc.config, dbName, role);
  return rc.share ? sharePoolSettings(settings, rc.share) : settings;
}
