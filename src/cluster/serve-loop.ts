/**
 * The life of one serving process, single or a cluster worker: listen, start the admin
 * listener, reload on SIGHUP, and on SIGTERM, SIGINT or stop() drain (Gateway.shutdown:
 * /readyz says draining, shutdown_drain_delay, sessions finish for up to shutdown_timeout),
 * then close. The admin listener stays up until the gateway is done.
 *
 * A second SIGTERM or SIGINT ends the drain at once, in a single process. A cluster worker
 * takes every signal as the first: the primary passes its SIGTERM on, and systemd (or a
 * terminal's Ctrl-C) signals the whole process group too, so a worker would see two signals
 * for one stop. The primary tells its workers to end at once (stopNow) on its own second signal.
 */
import type { Logger } from 'pino';
import type { Gateway } from '../gateway/gateway.js';
import type { Admin } from '../admin/admin.js';

export class ServeLoop {
  private stopNow: ((trigger: string) => void) | undefined;
  /** A stop asked for before run() got as far as waiting for one. */
  private stopEarly: string | undefined;
  private gateway: Gateway | undefined;

  constructor(private readonly opts: { secondSignalForces: boolean } = { secondSignalForces: true }) {}

  /** Begins the graceful stop; only the first call counts. */
  stop(trigger: string): void {
    if (this.stopNow) this.stopNow(trigger);
    else this.stopEarly ??= trigger;
  }

  /** Ends a drain at once (the primary's second signal, or this process's own). */
  force(trigger: string, log: Logger): void {
    if (!this.gateway) return this.stop(trigger);
    log.warn({ event: 'shutdown_forced', signal: trigger }, 'stopping at once');
    this.gateway.stopNow();
  }

  /** Resolves once the gateway and the admin listener are closed. */
  async run(gateway: Gateway, admin: Admin, log: Logger, onListening?: () => void): Promise<void> {
    // The admin listener first: once the gateway logs "listening", /metrics and /readyz answer too
    // (readyz says not ready until the gateway accepts).
    await admin.start();
    try {
      await gateway.listen();
    } catch (err) {
      await admin.close();
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
        this.gateway = gateway;
        log.info({ event: 'shutdown', signal: trigger }, 'shutting down');
        gateway
          .shutdown(gateway.runtime.config.shutdown_timeout)
          .then(() => admin.close())
          .then(resolve, resolve);
      };
      let signals = 0;
      const onSignal = (signal: string): void => {
        signals++;
        if (signals > 1 && this.opts.secondSignalForces) this.force(signal, log);
        else this.stop(signal);
      };
      process.on('SIGTERM', () => onSignal('SIGTERM'));
      process.on('SIGINT', () => onSignal('SIGINT'));
      if (this.stopEarly !== undefined) this.stop(this.stopEarly);
    });
  }
}
