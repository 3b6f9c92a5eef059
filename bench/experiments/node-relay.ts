/**
 * A floor for poolers built on node:net and node:tls: a minimal relay that does per transaction
 * only what a mutual-TLS gateway must. It answers the SSLRequest, completes the handshake through a
 * tls.Server (client certificate required and verified; no CRL), opens one plain upstream
 * connection per client and copies bytes both ways: no framing, no pooling, no rules, no logging.
 * Upstream reads go through `onread` into one shared buffer, as in pgmoat
 * (src/upstream/reader.ts); a view is written to the client only when its TLS socket has
 * nothing queued, otherwise it is copied (a simpler test than pgmoat's `writableFor`, enough here:
 * nothing corks these sockets).
 *
 * Its CPU per transaction is what Node's stream layer costs a relay (two reads and two writes, one of
 * each through TLS), which pgmoat pays on top of its own work. Not a product: there is no pooling,
 * so PostgreSQL runs one backend per client; compare CPU per transaction, not TPS.
 *
 * It takes the command line the benchmark gives a pgmoat build, so it runs as a `--compare` column:
 *
 *   npm run bench -- --scenarios select,extended --targets pgbouncer,pgmoat --workers 1 \
 *     --compare dist/bench/experiments/node-relay.js=node-floor
 *
 * It reads listen, tls.cert/key/ca and the first database's host and port from that config.
 */
import { createServer as createNetServer, connect, type Socket } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { readFileSync } from 'node:fs';
import { SSL_REQUEST, SSL_ACCEPT } from '../../src/protocol/messages.js';

interface RelayConfig {
  listen: { host: string; port: number };
  tls: { cert: string; key: string; ca: string };
  databases: Record<string, { host: string; port: number }>;
}

const READ_BUFFER_BYTES = 64 * 1024;

function configPath(argv: readonly string[]): string {
  const i = argv.indexOf('--config');
  const path = i >= 0 ? argv[i + 1] : undefined;
  if (argv[0] !== 'serve' || path === undefined) {
    process.stderr.write('usage: node-relay.js serve --config FILE (the config the benchmark writes for pgmoat)\n');
    process.exit(2);
  }
  return path;
}

const config = JSON.parse(readFileSync(configPath(process.argv.slice(2)), 'utf8')) as RelayConfig;
const upstream = Object.values(config.databases)[0];
if (upstream === undefined) throw new Error('the config names no database');
const sharedRead = Buffer.allocUnsafe(READ_BUFFER_BYTES);

function relay(client: TLSSocket): void {
  const server: Socket = connect({
    host: upstream!.host,
    port: upstream!.port,
    noDelay: true,
    onread: {
      buffer: sharedRead,
      callback: (bytes: number): boolean => {
        const view = sharedRead.subarray(0, bytes);
        // The view is only valid during this call: a TLS socket with nothing queued encrypts it
        // inside write(); anything else must keep a copy.
        const ok = client.write(client.writableLength === 0 ? view : Buffer.from(view));
        if (!ok) {
          server.pause();
          client.once('drain', () => server.resume());
        }
        return true;
      },
    },
  });
  client.on('data', (chunk: Buffer) => {
    if (!server.write(chunk)) {
      client.pause();
      server.once('drain', () => client.resume());
    }
  });
  client.on('error', () => undefined);
  server.on('error', () => undefined);
  client.on('close', () => server.destroy());
  server.on('close', () => client.destroy());
}

const tlsServer = createTlsServer(
  { cert: readFileSync(config.tls.cert), key: readFileSync(config.tls.key), ca: readFileSync(config.tls.ca), requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' },
  relay,
);
tlsServer.on('tlsClientError', (_err: Error, socket: TLSSocket) => socket.destroy());

const listener = createNetServer({ noDelay: true }, (raw: Socket) => {
  raw.on('error', () => undefined);
  raw.once('data', (first: Buffer) => {
    // Only an SSLRequest alone in its read: anything else (or bytes after it) is refused.
    if (!first.equals(SSL_REQUEST)) {
      raw.destroy();
      return;
    }
    raw.write(SSL_ACCEPT);
    tlsServer.emit('connection', raw);
  });
});
listener.listen(config.listen.port, config.listen.host);
process.on('SIGTERM', () => process.exit(0));
