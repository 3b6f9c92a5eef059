import type { Command } from 'commander';
import { loadConfig } from '../../config/load.js';
import { buildRuntimeConfig } from '../../runtime/runtime-config.js';
import { Gateway } from '../../gateway/gateway.js';
import { createLogger } from '../../util/logger.js';
import { Admin } from '../../admin/admin.js';
import { ServeLoop } from '../../cluster/serve-loop.js';
import { isClusterWorker, serveCluster } from '../../cluster/serve-cluster.js';
import { parseWorkers } from '../../cluster/workers-option.js';
import { renewalCounter, serverRenewalCounter } from '../../renewal/start.js';
import { RenewalRuntime } from '../../renewal/renewal-runtime.js';

interface ServeOptions {
  config: string;
  workers: number;
}

export function register(program: Command): void {
  program
    .command('serve')
    .description('run the gateway: accept PostgreSQL clients over (mutual) TLS and pool their sessions onto upstream servers')
    .requiredOption('-c, --config <file>', 'the pgmoat.yaml to run')
    .option('-w, --workers <n>', 'worker processes sharing the listener (node:cluster), or auto for one per CPU; pool sizes and limits are split between them', parseWorkers, 1)
    .addHelpText(
      'after',
      '\nSignals: SIGHUP re-reads the config and every certificate, key, CA bundle and CRL (new connections use them;\n' +
        'a config that does not validate is refused and the running one stays; the admin console\'s RELOAD does the same).\n' +
        'SIGTERM/SIGINT (or SHUTDOWN in the admin console) stop accepting,\n' +
        'let sessions finish for up to shutdown_timeout, then close.\n' +
        '\nWith --workers N (N > 1): a primary process forks N workers and serves no client itself. Each worker\n' +
        'gets 1/N of every pool_size, min_pool_size, reserve_pool_size, max_db_connections, max_user_connections\n' +
        'and max_client_conn, so the upstream sees no more than configured (a pool size or limit below N still gives\n' +
        'each worker 1, and a warning names it). --workers auto is one per CPU. The primary restarts\n' +
        'a worker that dies, passes SIGHUP to every worker, stops them all on SIGTERM/SIGINT or SHUTDOWN, and serves\n' +
        'admin.http with the metrics of every worker. Cancel requests reach the worker owning the session.\n' +
        'With renewal: in the config the primary runs the renewal service (and renews the gateway\'s own\n' +
        'certificate); its counts are on the primary\'s /metrics. Each worker watches the TLS files itself.\n' +
        '\nrenewal: (single process or primary) follows SIGHUP and RELOAD: another host or port opens a new listener,\n' +
        'another CA, grace, rate limit, certificate or server_certificate setting is used at once.',
    )
    .action(async (opts: ServeOptions) => {
      if (opts.workers > 1 || isClusterWorker()) return serveCluster(opts.config, opts.workers);
      const loaded = await loadConfig(opts.config);
      const log = createLogger(loaded.config.log.level, loaded.config.log.format);
      const gateway = new Gateway(await buildRuntimeConfig(loaded), log);
      const loop = new ServeLoop();
      // The renewal service (renewal: in pgmoat.yaml) runs beside the gateway, follows its reloads and stops with it.
      let renewal: RenewalRuntime | undefined;
      // Attached before listening, so that the first connection is already counted.
      const admin = Admin.attach(gateway, { log, onShutdown: () => loop.stop('SHUTDOWN'), onReloaded: (config, trigger) => renewal!.apply(config, trigger) });
      renewal = new RenewalRuntime(log, { onRequest: renewalCounter(admin.metrics.registry), onServerRenewal: serverRenewalCounter(admin.metrics.registry) });
      await renewal.apply(loaded.config);
      try {
        await loop.run(gateway, admin, log);
      } finally {
        await renewal.close();
      }
      log.flush();
    });
}
