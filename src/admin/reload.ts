/**
 * A configuration reload, the one both SIGHUP (pgmoat serve) and the admin console's RELOAD use:
 * re-read the config file the gateway runs and every certificate, key, CA bundle and CRL it
 * names, then hand the result to the gateway. A config that does not load is refused whole and
 * the running one stays. Reloads of one gateway run one after the other.
 */
import type { Logger } from 'pino';
import { loadConfig } from '../config/load.js';
import { buildRuntimeConfig, type RuntimeConfig } from '../runtime/runtime-config.js';
import { PgmoatError, errorMessage, isPgmoatError } from '../util/errors.js';
import type { GatewayMetricsHooks } from '../access/hooks.js';

export interface Reloadable {
  readonly runtime: RuntimeConfig;
  readonly metrics: GatewayMetricsHooks;
  reload(rc: RuntimeConfig): void;
}

const queues = new WeakMap<Reloadable, Promise<unknown>>();

/** Resolves with the new RuntimeConfig; rejects with a PgmoatError (code RELOAD_REFUSED) when refused. */
export function reloadGateway(gw: Reloadable, log: Logger, trigger: string, check?: (rc: RuntimeConfig) => void): Promise<RuntimeConfig> {
  const previous = queues.get(gw) ?? Promise.resolve();
  const run = previous.then(async () => {
    const path = gw.runtime.path;
    try {
      // A cluster worker keeps its share of the limits across reloads; neither the CRL nor a
      // certificate may go back.
      const rc = await buildRuntimeConfig(await loadConfig(path), gw.runtime.share, { inForce: gw.runtime.revocation, running: gw.runtime });
      // What else the reload will apply (admin.http's TLS files) is checked before anything is.
      check?.(rc);
      gw.reload(rc);
      gw.metrics.reloaded('ok');
      log.info({ event: 'reload', outcome: 'ok', trigger }, 'configuration reloaded');
      return rc;
    } catch (err) {
      gw.metrics.reloaded('refused');
      const reason = errorMessage(err);
      const code = isPgmoatError(err) ? err.code : undefined;
      log.error({ event: 'reload', outcome: 'refused', trigger, code, reason }, `configuration reload refused${code ? ` (${code})` : ''}; the running configuration stays`);
      throw new PgmoatError('RELOAD_REFUSED', `configuration reload refused; the running configuration stays: ${reason}`, {
        severity: 'ERROR',
        cause: isPgmoatError(err) ? err : undefined,
      });
    }
  });
  queues.set(gw, run.catch(() => undefined));
  return run;
}
