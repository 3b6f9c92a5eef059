/**
 * The renewal service as `pgmoat serve` runs it (in the single process, or in the primary of
 * `--workers N`): the HTTPS listener, the watch that keeps the listener's certificate in step
 * with its files (a renewed gateway certificate, a pair replaced by another tool), and the
 * renewal of the gateway's own certificate. apply() takes the settings of a (re)loaded
 * pgmoat.yaml and changes what differs while running: `renewal:` added or removed, another
 * host or port (a new listener, then the old one closes), another CA, grace, rate limit or
 * listener certificate (new handshakes and requests use them), another server_certificate.
 */
import type { Logger } from 'pino';
import { openCa } from '../ca/authority.js';
import { RenewalService } from '../ca/renewal.js';
import type { Config } from '../config/schema.js';
import { TlsFileWatch } from '../runtime/tls-file-watch.js';
import { PgmoatError, errorMessage } from '../util/errors.js';
import { readPrivateFile, readSecretFile } from '../util/private-file.js';
import { RenewalServer, type RenewalOutcome } from './renewal-server.js';
import { ServerCertRenewer, type ServerRenewalOutcome } from './server-cert-renewer.js';
import { caPassphrase, readCert, renewalSettingsFromConfig, type RenewalSettings } from './start.js';

export interface RenewalRuntimeHooks {
  onRequest?: ((outcome: RenewalOutcome, reason: string) => void) | undefined;
  onServerRenewal?: ((outcome: ServerRenewalOutcome) => void) | undefined;
}

/** As `pgmoat agent`'s defaults. */
const JITTER = 0.05;
const RETRY_MIN_MS = 1_000;
const RETRY_MAX_MS = 5 * 60_000;
/** How often the listener's file watch stats its files besides fs.watch events. */
const POLL_MS = 1_000;

function listenerTls(s: RenewalSettings) {
  return {
    cert: readCert(s.certFile),
    key: readPrivateFile(s.keyFile, 'renewal listener key'),
    keyPassphrase: s.keyPassphraseFile !== undefined ? readSecretFile(s.keyPassphraseFile, 'renewal listener key passphrase file') : undefined,
  };
}

export class RenewalRuntime {
  private settings: RenewalSettings | undefined;
  private server: RenewalServer | undefined;
  private watch: TlsFileWatch | undefined;
  private poll: NodeJS.Timeout | undefined;
  private renewer: ServerCertRenewer | undefined;
  /** Reloads one after the other. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly log: Logger,
    private readonly hooks: RenewalRuntimeHooks = {},
  ) {}

  get address(): { port: number } | undefined {
    return this.server?.address();
  }

  /** At start: a failure throws (the gateway does not start). At a reload: throws RENEWAL_RELOAD and what ran stays. */
  apply(config: Config, trigger = 'start'): Promise<void> {
    const run = this.queue.then(() => this.applyNow(config, trigger));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async applyNow(config: Config, trigger: string): Promise<void> {
    const next = renewalSettingsFromConfig(config);
    const prev = this.settings;
    if (!next) {
      if (prev) {
        await this.stopAll();
        this.log.info({ event: 'renewal_stopped', trigger }, 'renewal: removed from the configuration: the renewal service stopped');
      }
      return;
    }
    const changed = prev ? (Object.keys(next) as (keyof RenewalSettings)[]).filter((k) => JSON.stringify(next[k]) !== JSON.stringify(prev[k])) : ['all'];
    if (prev && changed.length === 0) return;
    try {
      const ca = await openCa(next.caDir, caPassphrase(next));
      const service = new RenewalService(ca, { expiredGraceMs: next.expiredGraceMs });
      const tls = listenerTls(next);
      if (!this.server || next.host !== prev?.host || next.port !== prev.port) {
        const server = await RenewalServer.start({
          host: next.host,
          port: next.port,
          ...tls,
          service,
          rateLimit: next.rateLimit,
          log: this.log.child({ component: 'renewal' }),
          ...(this.hooks.onRequest ? { onOutcome: this.hooks.onRequest } : {}),
        });
        // The new listener is up before the old one closes: a refused port leaves the old one serving.
        await this.server?.close();
        this.server = server;
      } else {
        this.server.reconfigure({ service, rateLimit: next.rateLimit });
        this.server.useTls(tls);
      }
      this.watchListenerFiles(next, tls);
      this.renewer?.stop();
      this.renewer = undefined;
      const self = next.serverCertificate;
      if (self?.renew === 'auto') {
        const renewer = new ServerCertRenewer({
          certPath: self.certFile,
          keyPath: self.keyFile,
          keyPassphraseFile: self.keyPassphraseFile,
          ca,
          renewAt: self.renewAt,
          jitter: JITTER,
          retryMinMs: RETRY_MIN_MS,
          retryMaxMs: RETRY_MAX_MS,
          log: this.log.child({ component: 'renewal' }),
          onOutcome: this.hooks.onServerRenewal,
        });
        if (await renewer.start()) this.renewer = renewer;
      }
    } catch (err) {
      if (!prev) throw err;
      this.log.error({ event: 'renewal_reload_failed', trigger, changed, reason: errorMessage(err) }, 'renewal: could not apply the new settings; the renewal service runs as before');
      throw new PgmoatError('RENEWAL_RELOAD', `configuration applied, but renewal: could not follow it (${changed.join(', ')}): ${errorMessage(err)}`, { severity: 'ERROR', cause: err });
    }
    this.settings = next;
    if (prev) this.log.info({ event: 'renewal_reloaded', trigger, changed }, `renewal: new settings in force (${changed.join(', ')})`);
  }

  private watchListenerFiles(s: RenewalSettings, inForce: ReturnType<typeof listenerTls>): void {
    this.watch?.stop();
    const server = this.server!;
    this.watch = new TlsFileWatch({
      what: 'renewal.tls',
      paths: { cert: s.certFile, key: s.keyFile, passphrase: s.keyPassphraseFile },
      inForce: { cert: inForce.cert, key: inForce.key.toString('utf8'), passphrase: inForce.keyPassphrase },
      apply: (m) => server.useTls({ cert: m.cert!, key: m.key!, keyPassphrase: m.passphrase }),
      log: this.log.child({ component: 'renewal' }),
    });
    this.watch.start();
    if (!this.poll) {
      this.poll = setInterval(() => this.watch?.poll(Date.now()), POLL_MS);
      this.poll.unref();
    }
  }

  private async stopAll(): Promise<void> {
    this.renewer?.stop();
    await this.renewer?.idle();
    this.renewer = undefined;
    this.watch?.stop();
    this.watch = undefined;
    if (this.poll) clearInterval(this.poll);
    this.poll = undefined;
    await this.server?.close();
    this.server = undefined;
    this.settings = undefined;
  }

  async close(): Promise<void> {
    await this.queue;
    await this.stopAll();
  }
}
