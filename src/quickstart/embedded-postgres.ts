/**
 * The quick start's embedded PostgreSQL: PGlite (PostgreSQL compiled to WebAssembly) with its
 * data directory on disk, served on a loopback port by pglite-socket so that pgmoat reaches it
 * over the ordinary wire protocol, like any upstream.
 *
 * PGlite and pglite-socket are imported here, on first use, so that the other commands (and the
 * quick start with --upstream) never load them.
 */
import { mkdirSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { PgmoatError, errorMessage } from '../util/errors.js';
import { unpackTemplate, type DataDirPlan } from './pgdata-template.js';

/**
 * PGlite is one backend: pglite-socket multiplexes extra sockets onto it query by query, sharing
 * session state. pgmoat keeps a single server connection (pool_size 1); the spare slots only
 * cover the moment a closed connection's handler is still being torn down while a new one
 * arrives (pglite-socket answers a connection over the limit with a bare "Too many connections").
 */
const SOCKET_SLOTS = 4;

/**
 * PostgreSQL's default 128MB of shared buffers is set up (touched) at start inside PGlite's
 * WebAssembly memory, so it is resident at once; a demo database needs far less.
 */
const SHARED_BUFFERS = '16MB';

export interface EmbeddedPostgres {
  readonly host: string;
  readonly port: number;
  /** PGlite logs in everyone as this superuser, whatever the startup packet says. */
  readonly user: string;
  readonly dataDir: string;
  stop(): Promise<void>;
}

/**
 * V8 compiles PGlite's 9 MB WebAssembly module with its baseline compiler and then, in the
 * background, again with the optimising one: on a small machine that second compile competes
 * with the start for the CPU and holds tens of MB, and the demo's queries do not need it.
 * The flag only concerns WebAssembly, which nothing else in pgmoat uses. Set here for a CLI started
 * without bin/pgmoat (which passes it on the command line): Node 24's V8 ignores flags set once it
 * has started, Node 22's does not.
 */
function baselineWasmOnly(): void {
  setFlagsFromString('--liftoff-only');
}

export async function startEmbeddedPostgres(dataDir: string, plan: DataDirPlan): Promise<EmbeddedPostgres> {
  if (plan.kind === 'template') {
    try {
      unpackTemplate(plan.archive, dataDir);
    } catch (err) {
      throw new PgmoatError('EMBEDDED_PG_FAILED', `cannot unpack the embedded PostgreSQL's data directory into ${dataDir}: ${errorMessage(err)}`, { cause: err });
    }
  }
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  baselineWasmOnly();
  const { PGlite } = await import('@electric-sql/pglite');
  const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
  let db: InstanceType<typeof PGlite>;
  try {
    db = await PGlite.create({ dataDir, startParams: [...PGlite.defaultStartParams, '-c', `shared_buffers=${SHARED_BUFFERS}`] });
  } catch (err) {
    throw new PgmoatError('EMBEDDED_PG_FAILED', `cannot open the embedded PostgreSQL data in ${dataDir}: ${errorMessage(err)}`, { cause: err });
  }
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: SOCKET_SLOTS });
  try {
    await server.start();
  } catch (err) {
    await db.close().catch(() => undefined);
    throw new PgmoatError('EMBEDDED_PG_FAILED', `cannot serve the embedded PostgreSQL on a loopback port: ${errorMessage(err)}`, { cause: err });
  }
  const port = Number(server.getServerConn().split(':').at(-1));
  let stopped: Promise<void> | undefined;
  return {
    host: '127.0.0.1',
    port,
    user: 'postgres',
    dataDir,
    stop() {
      stopped ??= (async () => {
        await server.stop();
        await db.close();
      })();
      return stopped;
    },
  };
}
