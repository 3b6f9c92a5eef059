/**
 * With listen.reuse_port the primary holds no listener, and a second gateway whose workers also
 * set SO_REUSEPORT could bind the same port and silently take a share of the connections. So the
 * primary first binds the port itself without the option and closes it at once: anything
 * listening there (another pgmoat, with or without reuse_port, or a PostgreSQL) fails the start
 * with the usual "already in use", as it does with the primary's own listener.
 */
import { createServer } from 'node:net';
import { listenFailure } from '../util/listen-error.js';

export function assertPortFree(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (err) => reject(listenFailure(err, 'the gateway', host, port, 'listen.host/listen.port in pgmoat.yaml')));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
}
