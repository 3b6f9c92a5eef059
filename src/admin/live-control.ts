/**
 * The admin commands that change the running gateway and reach every worker of
 * `serve --workers N`: SET, DISABLE/ENABLE, SUSPEND, and RESUME's undoing of SUSPEND. The console
 * runs them on its own worker, cluster/worker.ts on the others (runPeerCommand), with one code.
 */
import type { Config } from '../config/schema.js';
import type { Pool } from '../pool/pool.js';
import type { LoginGate } from '../gateway/login-gate.js';
import type { RuntimeConfig } from '../runtime/runtime-config.js';
import { PgmoatError } from '../util/errors.js';
import type { DatabaseVerb, PoolVerb } from './command-parse.js';
import { withSetting } from './live-settings.js';
import { controlPools, waitClose } from './pool-control.js';

/** What these commands need of the gateway (src/gateway/gateway.ts). */
export interface LiveGateway {
  readonly pools: ReadonlyMap<string, Pool>;
  readonly runtime: RuntimeConfig;
  readonly gate: LoginGate;
  applySettings(config: Config): void;
}

/** An admin console command that a worker runs for the others (through the primary). */
export type PeerCommand =
  | { kind: 'reload' }
  | { kind: 'pool'; verb: PoolVerb; database: string | undefined }
  | { kind: 'database'; verb: DatabaseVerb; database: string }
  | { kind: 'set'; key: string; value: string }
  | { kind: 'suspend' }
  | { kind: 'wait_close'; database: string | undefined };

export function setSetting(gw: LiveGateway, key: string, value: string): void {
  gw.applySettings(withSetting(gw.runtime.config, key, value, gw.runtime.share));
}

export function disableDatabase(gw: LiveGateway, verb: DatabaseVerb, database: string): void {
  if (!Object.hasOwn(gw.runtime.config.databases, database)) {
    throw new PgmoatError('UNKNOWN_DATABASE', `no such database: "${database}"`, { severity: 'ERROR' });
  }
  if (verb === 'DISABLE') gw.gate.disable(database);
  else gw.gate.enable(database);
}

/**
 * SUSPEND: new logins to pooled databases wait for RESUME (the admin console still takes
 * logins), and every pool holds new transactions as PAUSE does, without waiting for the ones in
 * progress. pgmoat cannot hand its sockets to another process, so unlike PgBouncer it does not
 * freeze sockets mid-transaction: what runs finishes, nothing new starts.
 */
export function suspend(gw: LiveGateway): void {
  gw.gate.suspend();
  // The promise settles once the pool is idle; SUSPEND does not wait for it.
  for (const p of gw.pools.values()) void p.pause();
}

/** RESUME [db]: the pools; without a database also the logins SUSPEND holds. */
export async function resume(gw: LiveGateway, database: string | undefined): Promise<void> {
  await controlPools('RESUME', database, gw.pools.values(), gw.runtime.config);
  if (database === undefined) gw.gate.resume();
}

/** A command from another worker's console. `reload` is the caller's (it needs the Admin). */
export async function runPeerCommand(gw: LiveGateway, cmd: Exclude<PeerCommand, { kind: 'reload' }>): Promise<void> {
  switch (cmd.kind) {
    case 'pool':
      if (cmd.verb === 'RESUME') await resume(gw, cmd.database);
      else await controlPools(cmd.verb, cmd.database, gw.pools.values(), gw.runtime.config);
      return;
    case 'database':
      disableDatabase(gw, cmd.verb, cmd.database);
      return;
    case 'set':
      setSetting(gw, cmd.key, cmd.value);
      return;
    case 'suspend':
      suspend(gw);
      return;
    case 'wait_close':
      await waitClose(cmd.database, () => gw.pools.values(), gw.runtime.config, gw.runtime.config.shutdown_timeout, () => false);
      return;
  }
}
