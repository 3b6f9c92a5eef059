/**
 * The quick start's embedded PostgreSQL: PGlite (PostgreSQL compiled to WebAssembly) with its
 * data directory on disk, served on a loopback port by pglite-socket so that pgmoat reaches it
 * over the ordinary wire protocol, like any upstream.
 */
import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { PgmoatError, errorMessage } from '../util/errors.js';

/**
 * PGlite is one backend: pglite-socket multiplexes extra sockets onto it query by query, sharing
 * session state. pgmoat keeps a single server connection (pool_size 1); the spare slots only
 * cover the moment a closed connection's handler is still being torn down while a new one
 * arrives (pglite-socket answers a connection over the limit with a bare "Too many connections").
 */
const SOCKET_SLOTS = 4;

export interface EmbeddedPostgres {
  readonly host: string;
  readonly port: number;
  /** PGlite logs in everyone as this superuser, whatever the startup packet says. */
  readonly user: string;
  readonly dataDir: string;
  stop(): Promise<void>;
}

export async function startEmbeddedPostgres(dataDir: string): Promise<EmbeddedPostgres> {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  let db: PGlite;
  try {
    db = await PGlite.create({ dataDir });
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
