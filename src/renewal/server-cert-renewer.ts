/**
 * The gateway renewing its own server certificate (`renewal.server_certificate`) through the CA
 * of the renewal service it runs, without a person: at `renewAt` of the lifetime (with jitter, as
 * `pgmoat agent`), a new key made here, the same identity, signed and recorded in the inventory
 * in-process (ca/renew-server.ts), then the pair replaced atomically on disk (pair-files.ts) so
 * that the gateway's TLS file watch puts it in force. A tls.cert the CA did not sign is left
 * alone (said once, at start). Failures are retried with exponential backoff.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { CertificateAuthority } from '../ca/authority.js';
import { renewServerCertificate, serverCertificateOrigin } from '../ca/renew-server.js';
import { errorMessage, isPgmoatError } from '../util/errors.js';
import { readSecretFile } from '../util/private-file.js';
import { normalizeSerial } from '../util/serial.js';
import { renewalTime } from './agent.js';
import { recoverPair, replacePair } from './pair-files.js';

export type ServerRenewalOutcome = 'renewed' | 'failed';

export interface ServerCertRenewerOptions {
  certPath: string;
  keyPath: string;
  keyPassphraseFile?: string | undefined;
  ca: CertificateAuthority;
  /** Fraction of the lifetime after which to renew (0 < f < 1). */
  renewAt: number;
  /** Spread of the renewal point, as a fraction of the lifetime. */
  jitter: number;
  retryMinMs: number;
  retryMaxMs: number;
  log: Logger;
  onOutcome?: ((outcome: ServerRenewalOutcome) => void) | undefined;
}

/** setTimeout's limit; longer waits are taken in steps. */
const MAX_TIMER_MS = 2_147_483_647;
/** After a renewal, the next one is at least this far away, whatever the jitter drew. */
const MIN_GAP_MS = 1_000;

export class ServerCertRenewer {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private failures = 0;
  private running: Promise<void> | undefined;

  constructor(private readonly o: ServerCertRenewerOptions) {}

  private passphrase(): string | undefined {
    return this.o.keyPassphraseFile !== undefined ? readSecretFile(this.o.keyPassphraseFile, 'tls.key_passphrase_file') : undefined;
  }

  /** Checks the certificate and schedules its renewal; false when the CA did not issue it (nothing more happens). */
  async start(): Promise<boolean> {
    const recovered = recoverPair(this.o.certPath, this.o.keyPath, this.passphrase());
    if (recovered !== 'none') this.o.log.warn({ event: 'server_certificate_recovered', outcome: recovered, path: this.o.certPath }, 'finished a replacement of the server certificate a stop had cut short');
    const origin = await serverCertificateOrigin(this.o.ca, readFileSync(this.o.certPath, 'utf8'));
    if (!origin.ours) {
      this.o.log.info(
        { event: 'server_certificate_not_ours', path: this.o.certPath, ca_dir: this.o.ca.dir, reason: origin.reason },
        `tls.cert is not renewed by the renewal service: ${origin.reason}`,
      );
      return false;
    }
    this.scheduleNext(0);
    return true;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Resolves once a renewal in progress (if any) has finished writing. */
  async idle(): Promise<void> {
    await this.running;
  }

  private wakeAt(at: number): void {
    if (this.stopped) return;
    const wait = Math.max(0, at - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (Date.now() < at) return this.wakeAt(at);
      this.running = this.renewOnce().finally(() => (this.running = undefined));
    }, Math.min(MAX_TIMER_MS, wait));
    this.timer.unref();
  }

  private scheduleNext(notBeforeMs: number): void {
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(readFileSync(this.o.certPath));
    } catch (err) {
      return this.failed(err);
    }
    const at = Math.max(renewalTime({ notBefore: new Date(cert.validFrom), notAfter: new Date(cert.validTo) }, this.o.renewAt, this.o.jitter).getTime(), notBeforeMs);
    this.o.log.info(
      { event: 'server_certificate_scheduled', path: this.o.certPath, serial: normalizeSerial(cert.serialNumber), renew_at: new Date(at).toISOString(), not_after: new Date(cert.validTo).toISOString() },
      'next renewal of the server certificate scheduled',
    );
    this.wakeAt(at);
  }

  private async renewOnce(): Promise<void> {
    if (this.stopped) return;
    try {
      const origin = await serverCertificateOrigin(this.o.ca, readFileSync(this.o.certPath, 'utf8'));
      if (!origin.ours) {
        // Replaced meanwhile by a certificate of another CA (by hand, by another tool): leave it.
        this.o.log.info({ event: 'server_certificate_not_ours', path: this.o.certPath, ca_dir: this.o.ca.dir, reason: origin.reason }, `tls.cert is no longer renewed: ${origin.reason}`);
        return;
      }
      const renewed = await renewServerCertificate(this.o.ca, origin, { keyPassphrase: this.passphrase() });
      if (this.stopped) return;
      replacePair(this.o.certPath, this.o.keyPath, renewed.certPem, renewed.keyPem);
      this.failures = 0;
      this.o.log.info(
        { event: 'renewal', kind: 'server', outcome: 'renewed', old_serial: renewed.oldSerial, new_serial: renewed.serial, cn: renewed.cn, not_after: renewed.notAfter.toISOString(), path: this.o.certPath },
        'server certificate renewed',
      );
      this.o.onOutcome?.('renewed');
      this.scheduleNext(Date.now() + MIN_GAP_MS);
    } catch (err) {
      this.failed(err);
    }
  }

  private failed(err: unknown): void {
    if (this.stopped) return;
    this.failures += 1;
    const code = isPgmoatError(err) ? err.code : 'SERVER_CERT_RENEWAL_FAILED';
    const backoff = Math.min(this.o.retryMaxMs, this.o.retryMinMs * 2 ** Math.min(this.failures - 1, 20));
    const delay = Math.round(backoff / 2 + Math.random() * (backoff / 2));
    this.o.log.error(
      { event: 'server_certificate_renewal_failed', code, attempt: this.failures, retry_in_ms: delay, path: this.o.certPath, err: errorMessage(err) },
      'renewing the server certificate failed; retrying',
    );
    this.o.onOutcome?.('failed');
    this.wakeAt(Date.now() + delay);
  }
}
