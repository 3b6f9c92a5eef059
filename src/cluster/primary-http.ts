/**
 * admin.http under `serve --workers N`: the primary serves it, so that a scrape sees the whole
 * gateway rather than whichever worker a shared listener would pick. /metrics merges every
 * worker's registry with prom-client's AggregatorRegistry (counts summed; see the aggregator of
 * each series) and adds the primary's own series; /readyz is ready when every worker runs and
 * says it is ready; /dashboard (when admin.http.dashboard is on) asks the workers through
 * cluster/dashboard-source.ts. SIGHUP and RELOAD make it follow admin.http as a single process does, and it
 * follows its TLS files on change as a single process does (http-server.ts).
 */
import { AggregatorRegistry, Counter, Gauge, Registry } from 'prom-client';
import type { Logger } from 'pino';
import { AdminHttpServer, followAdminHttp, type AdminHttpConfig } from '../admin/http-server.js';
import type { Readiness } from '../admin/readiness.js';
import type { DashboardSource } from '../admin/dashboard/types.js';
import { errorMessage, isPgmoatError } from '../util/errors.js';

export interface PrimaryHttpSource {
  /** Asks every worker; a missing or silent worker is a problem of its own. */
  readiness(): Promise<Readiness>;
  /** Workers running now. */
  running(): number;
  /** The dashboard over every worker (cluster/dashboard-source.ts). */
  dashboard?: DashboardSource;
}

export class PrimaryHttp {
  private server: AdminHttpServer | undefined;
  private readonly aggregator = new AggregatorRegistry();
  /** The primary's own series (the renewal service's counts, when it runs here), beside the workers'. */
  readonly own = new Registry();
  readonly restarts: Counter;

  constructor(
    private readonly source: PrimaryHttpSource,
    private readonly log: Logger,
    configured: number,
  ) {
    this.restarts = new Counter({ name: 'pgmoat_worker_restarts_total', help: 'Workers the primary replaced after they died unexpectedly.', registers: [this.own] });
    new Gauge({ name: 'pgmoat_workers', help: 'Workers running (serve --workers).', registers: [this.own], collect() { this.set(source.running()); } });
    new Gauge({ name: 'pgmoat_workers_configured', help: 'Workers asked for with serve --workers.', registers: [this.own] }).set(configured);
  }

  private async metrics(): Promise<{ contentType: string; body: string }> {
    const [workers, own] = await Promise.all([this.aggregator.clusterMetrics(), this.own.metrics()]);
    return { contentType: this.aggregator.contentType, body: `${workers}${workers.endsWith('\n') || workers === '' ? '' : '\n'}${own}` };
  }

  private listen(cfg: AdminHttpConfig): Promise<AdminHttpServer> {
    return AdminHttpServer.start(cfg, { metrics: () => this.metrics(), readiness: () => this.source.readiness(), ...(this.source.dashboard ? { dashboard: this.source.dashboard } : {}) }, this.log);
  }

  async follow(next: AdminHttpConfig | undefined): Promise<void> {
    try {
      await followAdminHttp(this.server, next, (cfg) => this.listen(cfg), (server) => (this.server = server));
    } catch (err) {
      // A certificate refused by the checks of the file watch leaves the running set, with its code.
      this.log.error({ event: 'admin_http_reload_failed', code: isPgmoatError(err) ? err.code : undefined, reason: errorMessage(err) }, 'admin HTTP listener could not follow the new configuration');
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.server?.close();
    this.server = undefined;
  }
}
