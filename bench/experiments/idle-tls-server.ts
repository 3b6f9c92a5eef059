/**
 * The reference for pgmoat's memory per idle client: a bare Node `tls.Server` that requires and
 * verifies a client certificate and then holds every connection, doing nothing with it but
 * answering the client's first bytes once (so that one read and one write went through TLS, as
 * at a login). Started by idle-tls-memory.ts, with whatever Node binary and flags it is given;
 * it imports nothing from pgmoat so that any Node version can run the compiled file.
 *
 * IDLE_TLS_SERVER (JSON): { cert, key, ca: file paths; tls?: extra tls.createServer options;
 * maxSendFragment?: number }. Prints {"port": N} once listening.
 */
import { readFileSync } from 'node:fs';
import { createServer, type TLSSocket, type TlsOptions } from 'node:tls';

interface ServerJob {
  cert: string;
  key: string;
  ca: string;
  tls?: TlsOptions;
  maxSendFragment?: number;
}

const job = JSON.parse(process.env.IDLE_TLS_SERVER ?? '{}') as ServerJob;
const held = new Set<TLSSocket>();
const ANSWER = Buffer.from('ready\n');

const server = createServer(
  {
    cert: readFileSync(job.cert),
    key: readFileSync(job.key),
    ca: readFileSync(job.ca),
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.2',
    ...job.tls,
  },
  (socket) => {
    if (job.maxSendFragment) socket.setMaxSendFragment(job.maxSendFragment);
    held.add(socket);
    socket.once('data', () => socket.write(ANSWER));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => held.delete(socket));
  },
);
server.listen(0, '127.0.0.1', () => {
  const addr = server.address();
  process.stdout.write(JSON.stringify({ port: typeof addr === 'object' && addr ? addr.port : 0 }) + '\n');
});
process.on('SIGTERM', () => process.exit(0));
// SIGHUP: print where the memory is (after a full GC when --expose-gc is given), for the driver.
process.on('SIGHUP', () => {
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  process.stdout.write(JSON.stringify({ mem: { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers } }) + '\n');
});
