/**
 * One worker of `pgmoat serve --workers N`: the same gateway as a single process, with its share
 * of the limits (runtime/worker-share.ts), cancel keys it can be found by (cancel-route.ts), log lines that say
 * which worker wrote them, and the IPC to the primary. It serves no admin HTTP (the primary
 * does, with the metrics of every worker) and stops when the primary goes away.
 */
import { AggregatorRegistry } from 'prom-client';
import { loadConfig } from '../config/load.js';
import { buildRuntimeConfig } from '../runtime/runtime-config.js';
import { Gateway } from '../gateway/gateway.js';
import { createLogger } from '../util/logger.js';
import { Admin } from '../admin/admin.js';
import { ServeLoop } from './serve-loop.js';
import { runPeerCommand } from '../admin/live-control.js';
import { readiness } from '../admin/readiness.js';
import { PgmoatError, errorMessage, isPgmoatError } from '../util/errors.js';
import { ownerOf } from '../gateway/cancel-route.js';
import { WorkerPeers } from './admin-fanout.js';
import { isPrimaryMessage, type WorkerRequest, type WorkerToPrimary } from './messages.js';
import type { WorkerShare } from '../runtime/worker-share.js';
import { answerDashboard } from './dashboard-worker.js';

export const WORKER_INDEX_ENV = 'PGMOAT_WORKER_INDEX';
export const WORKER_COUNT_ENV = 'PGMOAT_WORKERS';
export const TICKET_SECRET_ENV = 'PGMOAT_TICKET_SECRET';

/**
 * The primary's ticket secret, taken out of the environment so that no child inherits it. A
 * worker with a secret of its own would silently stop resuming other workers' sessions.
 */
function takeTicketSecret(env: NodeJS.ProcessEnv = process.env): Buffer {
  const hex = env[TICKET_SECRET_ENV];
  delete env[TICKET_SECRET_ENV];
  if (hex === undefined || !/^[0-9a-f]{64}$/.test(hex)) {
    throw new PgmoatError('CLUSTER_ENV', `a cluster worker needs ${TICKET_SECRET_ENV} (64 hex digits) from its primary`);
  }
  return Buffer.from(hex, 'hex');
}

/** This worker's index and the worker count, as the primary set them at fork. */
export function shareFromEnv(env: NodeJS.ProcessEnv = process.env): WorkerShare {
  const index = Number(env[WORKER_INDEX_ENV]);
  const count = Number(env[WORKER_COUNT_ENV]);
  if (!Number.isInteger(index) || !Number.isInteger(count) || index < 0 || index >= count) {
    throw new PgmoatError('CLUSTER_ENV', `a cluster worker needs ${WORKER_INDEX_ENV} and ${WORKER_COUNT_ENV} from its primary`);
  }
  return { index, count };
}

function send(m: WorkerToPrimary): void {
  if (process.connected) process.send!(m);
}

export async function runWorker(configPath: string, share: WorkerShare): Promise<void> {
  const loaded = await loadConfig(configPath);
  const log = createLogger(loaded.config.log.level, loaded.config.log.format).child({ worker: share.index + 1 });
  const gateway = new Gateway(await buildRuntimeConfig(loaded, share), log, { ticketSecret: takeTicketSecret() });
  gateway.cancelToWorker = (pid, secret) => {
    log.debug({ event: 'cancel_routed', owner: ownerOf(pid, share.count, gateway.peerId) + 1 }, 'cancel request passed to the worker owning the key');
    send({ pgmoat: 'cancel', pid, secret });
  };
  const peers = new WorkerPeers(send);
  // The primary decides when a stop is forced (its own second signal): see serve-loop.ts.
  const loop = new ServeLoop({ secondSignalForces: false });
  const admin = Admin.attach(gateway, {
    log,
    http: false,
    peers,
    worker: share,
    firstRefusals: { candidate: (serial, delayMs) => send({ pgmoat: 'first-refusal', serial, delayMs }) },
    onShutdown: () => {
      // The primary stops every worker, this one included; stopping here too spares a round trip.
      send({ pgmoat: 'shutdown' });
      loop.stop('SHUTDOWN');
    },
  });
  // Answers the primary's prom-client AggregatorRegistry with this worker's registry.
  AggregatorRegistry.setRegistries([admin.metrics.registry]);
  new AggregatorRegistry();

  const run = async (req: WorkerRequest): Promise<Omit<Extract<WorkerToPrimary, { pgmoat: 'reply' }>, 'pgmoat' | 'id'>> => {
    switch (req.kind) {
      case 'readiness':
        return { readiness: readiness(gateway) };
      case 'dashboard':
        return { dashboard: { value: await answerDashboard(admin.dashboard, req.call) } };
      case 'reload':
        log.info({ event: 'admin_command', command: 'RELOAD', via: 'another worker' }, 'admin command RELOAD');
        await admin.reload('RELOAD');
        return {};
      case 'pool':
      case 'database':
      case 'set':
      case 'suspend':
      case 'wait_close': {
        const command = req.kind === 'pool' || req.kind === 'database' ? req.verb : req.kind.toUpperCase();
        const database = 'database' in req ? req.database : undefined;
        const extra = req.kind === 'set' ? { key: req.key, value: req.value } : {};
        log.info({ event: 'admin_command', command, database, ...extra, via: 'another worker' }, `admin command ${command}`);
        await runPeerCommand(gateway, req);
        return {};
      }
    }
  };
  process.on('message', (m: unknown) => {
    if (!isPrimaryMessage(m)) return;
    switch (m.pgmoat) {
      case 'cancel':
        gateway.cancel(m.pid, m.secret);
        return;
      case 'stop-now':
        loop.force('primary', log);
        return;
      case 'fanout-done':
        peers.settle(m.id, m.errors);
        return;
      case 'first-refusal-won':
        admin.metrics.firstRefusalObserved(m.delayMs);
        return;
      case 'request':
        run(m.req).then(
          (r) => send({ pgmoat: 'reply', id: m.id, ...r }),
          (err: unknown) => send({ pgmoat: 'reply', id: m.id, error: errorMessage(err), code: isPgmoatError(err) ? err.code : undefined }),
        );
        return;
    }
  });

  // The primary died (even by SIGKILL): a worker never outlives it.
  process.once('disconnect', () => {
    peers.abandon();
    loop.stop('primary exited');
  });
  await loop.run(gateway, admin, log, () => send({ pgmoat: 'listening' }));
  // The IPC channel would keep the process alive: exit once the last log lines are out.
  await new Promise<void>((resolve) => log.flush(() => resolve()));
  process.exit(0);
}
