/**
 * The life of one serving process, single or a cluster worker: listen, start the admin
 * listener, reload on SIGHUP, and on SIGTERM, SIGINT or stop() let sessions finish for up to
 * shutdown_timeout, then close.
 */
import type { Logger } from 'pino';
import type { Gateway } from '../gateway/gateway.js';
import type { Admin } from '../admin/admin.js';

export class ServeLoop {
  private stopNow: ((trigger: string) => void) | undefined;
  /** A stop asked for before run() got as far as waiting for one. */
  private stopEarly: string | undefined;

  /** Begins the graceful stop; only the first call counts. */
  stop(trigger: string): void {
    if (this.stopNow) this.stopNow(trigger);
    else this.stopEarly ??= trigger;
  }

  /** Resolves once the gateway and the admin listener are closed. */
  async run(gateway: Gateway, admin: Admin, log: Logger, onListening?: () => void): Promise<void> {
    await gateway.listen();
    try {
      await admin.start();
    } catch (err) {
      await gateway.shutdown(0);
      throw err;
    }
    onListening?.();
    process.on('SIGHUP', () => {
      // Logged and counted by reload; a refused config leaves the running one.
      admin.reload('SIGHUP').catch(() => undefined);
    });
    await new Promise<void>((resolve) => {
      this.stopNow = (trigger: string): void => {
        this.stopNow = () => undefined;
        log.info({ event: 'shutdown', signal: trigger }, 'shutting down');
        gateway
          .shutdown(gateway.runtime.config.shutdown_timeout)
          .then(() => admin.close())
          .then(resolve, resolve);
      };
      process.once('SIGTERM', () => this.stop('SIGTERM'));
      process.once('SIGINT', () => this.stop('SIGINT'));
      if (this.stopEarly !== undefined) this.stop(this.stopEarly);
    });
  }
}
