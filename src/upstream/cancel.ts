/** Forwards a cancel to the backend serving a client, on a new connection as PostgreSQL wants. */
import * as msg from '../protocol/messages.js';
import { connectTcp, sslRequest, startTls } from './connect.js';
import type { UpstreamTarget } from './target.js';

export async function sendUpstreamCancel(t: UpstreamTarget, pid: number, secret: number): Promise<void> {
  const signal = AbortSignal.timeout(t.connectTimeoutMs > 0 ? t.connectTimeoutMs : 10_000);
  let socket = await connectTcp(t, signal);
  try {
    if (t.tls.mode !== 'disable' && t.tls.mode !== 'allow') {
      if (await sslRequest(t, socket, signal)) socket = await startTls(t, socket, signal);
    }
    await new Promise<void>((resolve) => {
      socket.once('close', () => resolve());
      socket.once('error', () => resolve());
      socket.end(msg.cancelRequest(pid, secret));
      socket.resume();
    });
  } finally {
    socket.destroy();
  }
}
