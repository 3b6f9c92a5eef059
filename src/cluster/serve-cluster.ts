/** What `pgmoat serve --workers N` runs in each process: the primary, or one worker. */
import cluster from 'node:cluster';
import { runPrimary } from './primary.js';
import { WORKER_INDEX_ENV, runWorker, shareFromEnv } from './worker.js';

/** A worker re-runs the same command line; the primary's fork environment tells it apart. */
export function isClusterWorker(): boolean {
  return cluster.isWorker && process.env[WORKER_INDEX_ENV] !== undefined;
}

export async function serveCluster(configPath: string, workers: number): Promise<void> {
  if (isClusterWorker()) {
    try {
      return await runWorker(configPath, shareFromEnv());
    } catch (err) {
      // The IPC channel would keep a failed worker alive: exit once runCli has printed the error.
      setImmediate(() => process.exit(1));
      throw err;
    }
  }
  process.exitCode = await runPrimary(configPath, workers);
}
