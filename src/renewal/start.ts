/**
 * Starts the renewal service from its settings: opens the CA (an encrypted key takes its
 * passphrase from a file or an environment variable), then listens. Used by `pgmoat serve`
 * (`renewal:` in pgmoat.yaml) and `pgmoat ca serve`.
 */
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { Counter } from 'prom-client';
import { openCa } from '../ca/authority.js';
import { RenewalService } from '../ca/renewal.js';
import type { RenewalRateLimit } from '../ca/renewal-rate.js';
import { PgmoatError } from '../util/errors.js';
import { readPrivateFile, readSecretFile } from '../util/private-file.js';
import { RenewalServer, type RenewalOutcome } from './renewal-server.js';
import type { Config } from '../config/schema.js';
import type { ServerRenewalOutcome } from './server-cert-renewer.js';
import { readTextFile } from '../util/file-problem.js';

export interface RenewalSettings {
  host: string;
  port: number;
  caDir: string;
  caPassphraseFile?: string | undefined;
  /** Name of an environment variable holding the CA key's passphrase. */
  caPassphraseEnv?: string | undefined;
  expiredGraceMs: number;
  rateLimit: RenewalRateLimit;
  /** The listener's certificate and key files. */
  certFile: string;
  keyFile: string;
  keyPassphraseFile?: string | undefined;
  /** The gateway's own tls.cert, renewed through this CA (`renewal.server_certificate`); `pgmoat ca serve` has none. */
  serverCertificate?: ServerCertificateSettings | undefined;
}

export interface ServerCertificateSettings {
  renew: 'auto' | 'off';
  renewAt: number;
  certFile: string;
  keyFile: string;
  keyPassphraseFile?: string | undefined;
}

export function caPassphrase(s: RenewalSettings): string | undefined {
  if (s.caPassphraseFile !== undefined) return readSecretFile(s.caPassphraseFile, 'CA passphrase file');
  if (s.caPassphraseEnv !== undefined) {
    const value = process.env[s.caPassphraseEnv];
    if (value === undefined || value === '') {
      throw new PgmoatError('KEY_PASSPHRASE_REQUIRED', `environment variable ${s.caPassphraseEnv} (the CA key passphrase) is not set or empty`);
    }
    return value;
  }
  return undefined;
}

export function readCert(path: string): string {
  return readTextFile(path, "the renewal listener's certificate");
}

/** pgmoat_renewals_total{outcome,reason} in `registry`; returns the hook that counts. */
export function renewalCounter(registry: Registry): (outcome: RenewalOutcome, reason: string) => void {
  const counter = new Counter({
    name: 'pgmoat_renewals_total',
    help: 'Renewal requests to the renewal service, by outcome (renewed, refused) and reason (the refusal code without RENEWAL_, none for a renewal).',
    labelNames: ['outcome', 'reason'],
    registers: [registry],
  });
  return (outcome, reason) => counter.inc({ outcome, reason });
}

/** pgmoat_server_certificate_renewals_total{outcome}: the gateway renewing its own certificate. */
export function serverRenewalCounter(registry: Registry): (outcome: ServerRenewalOutcome) => void {
  const counter = new Counter({
    name: 'pgmoat_server_certificate_renewals_total',
    help: "The gateway's renewals of its own server certificate (renewal.server_certificate), by outcome (renewed, failed: retried with backoff).",
    labelNames: ['outcome'],
    registers: [registry],
  });
  return (outcome) => counter.inc({ outcome });
}

export async function startRenewalService(s: RenewalSettings, log: Logger, onOutcome?: (outcome: RenewalOutcome, reason: string) => void): Promise<RenewalServer> {
  const ca = await openCa(s.caDir, caPassphrase(s));
  const service = new RenewalService(ca, { expiredGraceMs: s.expiredGraceMs }, () => openCa(s.caDir, caPassphrase(s)));
  return RenewalServer.start({
    host: s.host,
    port: s.port,
    cert: readCert(s.certFile),
    key: readPrivateFile(s.keyFile, 'renewal listener key'),
    keyPassphrase: s.keyPassphraseFile !== undefined ? readSecretFile(s.keyPassphraseFile, 'renewal listener key passphrase file') : undefined,
    service,
    rateLimit: s.rateLimit,
    log: log.child({ component: 'renewal' }),
    ...(onOutcome ? { onOutcome } : {}),
  });
}

/** The settings of `renewal:` in a loaded pgmoat.yaml; the listener's certificate defaults to the gateway's. */
export function renewalSettingsFromConfig(config: Config): RenewalSettings | undefined {
  const r = config.renewal;
  if (!r) return undefined;
  const certFile = r.tls?.cert ?? config.tls.cert;
  const keyFile = r.tls?.key ?? config.tls.key;
  if (certFile === undefined || keyFile === undefined) {
    throw new PgmoatError('CONFIG_INVALID', 'renewal: needs a certificate for its listener: set renewal.tls.cert and renewal.tls.key, or the gateway\'s tls.cert and tls.key');
  }
  return {
    host: r.host,
    port: r.port,
    caDir: r.ca_dir,
    caPassphraseFile: r.ca_passphrase_file,
    caPassphraseEnv: r.ca_passphrase_env,
    expiredGraceMs: r.expired_grace,
    rateLimit: { max: r.rate_limit.max, windowMs: r.rate_limit.window },
    certFile,
    keyFile,
    keyPassphraseFile: r.tls ? r.tls.key_passphrase_file : config.tls.key_passphrase_file,
    serverCertificate:
      config.tls.cert !== undefined && config.tls.key !== undefined
        ? { renew: r.server_certificate.renew, renewAt: r.server_certificate.renew_at, certFile: config.tls.cert, keyFile: config.tls.key, keyPassphraseFile: config.tls.key_passphrase_file }
        : undefined,
  };
}
