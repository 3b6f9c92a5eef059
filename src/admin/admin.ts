/**
 * Everything under `admin:` attached to a running gateway: the metrics (which become the
 * gateway's metrics hooks), the admin console (its login hook for the virtual database
 * `pgmoat`), and the HTTP listener for /metrics, /healthz and /readyz when `admin.http` is set.
 *
 *   const admin = Admin.attach(gateway, { log, onShutdown });
 *   await admin.start();            // after gateway.listen()
 *   await admin.reload('SIGHUP');   // what SIGHUP and RELOAD do
 *   await admin.close();
 */
import type { Logger } from 'pino';
import type { Gateway } from '../gateway/gateway.js';
import { packageVersion } from '../util/version.js';
import { PgmoatError, errorMessage, isPgmoatError } from '../util/errors.js';
import { NO_METRICS } from '../access/hooks.js';
import { GatewayMetrics, type FirstRefusalArbiter } from './metrics.js';
import { CertificateCatalog } from './certificate-catalog.js';
import { AdminConsole } from './console.js';
import { AdminHttpServer, checkAdminHttpReload, followAdminHttp, type AdminHttpConfig } from './http-server.js';
import { readiness } from './readiness.js';
import { reloadGateway } from './reload.js';
import { LocalDashboard, localSource } from './dashboard/local-source.js';
import type { AdminPeers } from './console.js';
import type { WorkerShare } from '../runtime/worker-share.js';
import type { RuntimeConfig } from '../runtime/runtime-config.js';

export interface AdminOptions {
  log: Logger;
  /** SHUTDOWN from the console; default: gateway.shutdown(shutdown_timeout), then close(). */
  onShutdown?: () => void;
  /** process_* and nodejs_* series (default on). */
  processMetrics?: boolean;
  /** Whether this process serves admin.http (default on; off in cluster workers: the primary serves it). */
  http?: boolean;
  /** Cluster workers: the other workers, for RELOAD, PAUSE, RESUME, RECONNECT and KILL. */
  peers?: AdminPeers;
  /** Cluster workers: which one this is (SHOW VERSION says it). */
  worker?: WorkerShare;
  /** Cluster workers: the primary, which keeps one first refusal per revoked serial across workers. */
  firstRefusals?: FirstRefusalArbiter;
  /** After a reload the gateway took: what else runs beside it follows the new configuration (renewal:). */
  onReloaded?: (config: RuntimeConfig['config'], trigger: string) => Promise<void>;
}

export class Admin {
  readonly metrics: GatewayMetrics;
  readonly console: AdminConsole;
  /** The dashboard's answers from this process (served here, or by the primary of a cluster). */
  readonly dashboard: LocalDashboard;
  private http: AdminHttpServer | undefined;
  private readonly log: Logger;
  private readonly httpEnabled: boolean;
  private readonly onReloaded: AdminOptions['onReloaded'];

  private constructor(
    private readonly gateway: Gateway,
    opts: AdminOptions,
  ) {
    this.log = opts.log;
    this.httpEnabled = opts.http !== false;
    this.onReloaded = opts.onReloaded;
    const version = packageVersion();
    // One catalog for SHOW CERTS and the certificate series: the same certificates seen, the same inventory cache.
    const catalog = new CertificateCatalog(gateway, () => this.console.identities());
    this.console = new AdminConsole(gateway, {
      catalog,
      version,
      log: opts.log,
      peers: opts.peers,
      worker: opts.worker,
      reload: async () => {
        await this.reload('RELOAD');
      },
      shutdown: opts.onShutdown ?? (() => void this.shutdownGateway()),
    });
    this.metrics = new GatewayMetrics(gateway, { version, adminIdentities: () => this.console.identities(), processMetrics: opts.processMetrics, catalog, firstRefusals: opts.firstRefusals });
    this.dashboard = new LocalDashboard({
      gateway,
      catalog,
      refusals: this.metrics.recentRefusals,
      registries: () => [this.metrics.registry],
      reload: () => this.reload('dashboard'),
    });
  }

  static attach(gateway: Gateway, opts: AdminOptions): Admin {
    const admin = new Admin(gateway, opts);
    gateway.metrics = admin.metrics;
    gateway.adminConsole = admin.console;
    return admin;
  }

  /** Starts the HTTP listener when admin.http is configured. */
  async start(): Promise<void> {
    const cfg = this.gateway.runtime.config.admin.http;
    if (cfg && this.httpEnabled) this.http = await this.listen(cfg);
  }

  /** The HTTP listener's address, when there is one. */
  get httpAddress(): { address: string; port: number } | undefined {
    return this.http?.address();
  }

  private listen(cfg: AdminHttpConfig): Promise<AdminHttpServer> {
    return AdminHttpServer.start(cfg, { metrics: () => this.metrics.scrape(), readiness: () => readiness(this.gateway), dashboard: localSource(this.dashboard) }, this.log);
  }

  /** SIGHUP and RELOAD: the gateway's reload, then the HTTP listener follows admin.http. */
  async reload(trigger: string): Promise<void> {
    // The listener's new TLS files are checked with the rest: one that fails refuses the reload whole.
    const rc = await reloadGateway(this.gateway, this.log, trigger, (next) => {
      if (this.httpEnabled) checkAdminHttpReload(this.http, next.config.admin.http);
    });
    // Whatever runs beside the gateway follows even when the HTTP listener cannot.
    // Its failure is held (not left unhandled) until the HTTP listener has followed too.
    const beside = this.onReloaded?.(rc.config, trigger).then(
      () => undefined,
      (err: unknown) => ({ err }),
    );
    if (this.httpEnabled) {
      const next = rc.config.admin.http;
      try {
        await followAdminHttp(this.http, next, (cfg) => this.listen(cfg), (server) => (this.http = server));
      } catch (err) {
        this.log.error({ event: 'admin_http_reload_failed', code: isPgmoatError(err) ? err.code : undefined, reason: errorMessage(err) }, 'admin HTTP listener could not follow the new configuration');
        await beside;
        throw new PgmoatError('ADMIN_HTTP_RELOAD', `configuration applied, but the admin HTTP listener could not follow it: ${errorMessage(err)}`, { severity: 'ERROR' });
      }
    }
    const failed = await beside;
    if (failed) throw failed.err;
  }

  private async shutdownGateway(): Promise<void> {
    this.log.info({ event: 'shutdown', trigger: 'SHUTDOWN' }, 'shutting down (admin console)');
    await this.gateway.shutdown(this.gateway.runtime.config.shutdown_timeout);
    await this.close();
  }

  /** Stops the HTTP listener, ends admin sessions and detaches from the gateway. */
  async close(): Promise<void> {
    this.console.closeAll();
    await this.http?.close();
    this.http = undefined;
    if (this.gateway.adminConsole === this.console) this.gateway.adminConsole = undefined;
    if (this.gateway.metrics === this.metrics) this.gateway.metrics = NO_METRICS;
    this.metrics.close();
  }
}
