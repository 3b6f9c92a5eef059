import type { Command } from 'commander';
import { loadConfig } from '../../config/load.js';
import { buildRuntimeConfig } from '../../gateway/runtime-config.js';
import { Gateway } from '../../gateway/gateway.js';
import { createLogger } from '../logger.js';
import { Admin } from '../../admin/admin.js';

interface ServeOptions {
  config: string;
}

export function register(program: Command): void {
  program
    .command('serve')
    .description('run the gateway: accept PostgreSQL clients over (mutual) TLS and pool their sessions onto upstream servers')
    .requiredOption('-c, --config <file>', 'the pgmoat.yaml to run')
    .addHelpText(
      'after',
      '\nSignals: SIGHUP re-reads the config and every certificate, key, CA bundle and CRL (new connections use them;\n' +
        'a config that does not validate is refused and the running one stays; the admin console\'s RELOAD does the same).\n' +
        'SIGTERM/SIGINT (or SHUTDOWN in the admin console) stop accepting,\n' +
        'let sessions finish for up to shutdown_timeout, then close.',
    )
    .action(async (opts: ServeOptions) => {
      const loaded = await loadConfig(opts.config);
      const log = createLogger(loaded.config.log.level, loaded.config.log.format);
      const gateway = new Gateway(await buildRuntimeConfig(loaded), log);
      let stop: ((trigger: string) => void) | undefined;
      // Attached before listening, so that the first connection is already counted.
      const admin = Admin.attach(gateway, { log, onShutdown: () => stop?.('SHUTDOWN') });
      await gateway.listen();
      try {
        await admin.start();
      } catch (err) {
        await gateway.shutdown(0);
        throw err;
      }
      process.on('SIGHUP', () => {
        // Logged and counted by reload; a refused config leaves the running one.
        admin.reload('SIGHUP').catch(() => undefined);
      });
      await new Promise<void>((resolve) => {
        stop = (trigger: string): void => {
          stop = undefined;
          log.info({ event: 'shutdown', signal: trigger }, 'shutting down');
          gateway
            .shutdown(gateway.runtime.config.shutdown_timeout)
            .then(() => admin.close())
            .then(resolve, resolve);
        };
        process.once('SIGTERM', () => stop?.('SIGTERM'));
        process.once('SIGINT', () => stop?.('SIGINT'));
      });
      log.flush();
    });
}
