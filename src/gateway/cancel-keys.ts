/**
 * The cancel keys of the live sessions (the pid and secret of BackendKeyData): handed out at
 * login, and checked in constant time when a CancelRequest names one, which then goes on to the
 * session's upstream server. Under `serve --workers N` the CancelRouter (cancel-route.ts) decides
 * which pids this worker hands out and passes on cancels for the others'.
 */
import { randomInt, timingSafeEqual } from 'node:crypto';
import type { Logger } from 'pino';
import type { ClientSession } from '../relay/client-session.js';
import { sendUpstreamCancel } from '../upstream/cancel.js';
import { errorMessage } from '../util/errors.js';
import type { CancelRouter } from './cancel-route.js';

export class CancelKeys {
  private readonly byPid = new Map<number, ClientSession>();

  constructor(
    private readonly router: () => CancelRouter | undefined,
    private readonly log: Logger,
  ) {}

  /** A key no live session holds. */
  allocate(): { pid: number; secret: number } {
    const router = this.router();
    for (;;) {
      const pid = router ? router.allocate() : randomInt(1, 2 ** 31 - 1);
      if (!this.byPid.has(pid)) return { pid, secret: randomInt(-(2 ** 31), 2 ** 31 - 1) };
    }
  }

  add(client: ClientSession): void {
    this.byPid.set(client.info.cancelPid, client);
  }

  delete(client: ClientSession): void {
    this.byPid.delete(client.info.cancelPid);
  }

  cancel(pid: number, secret: number): void {
    const router = this.router();
    if (router && !router.owns(pid)) return router.forward(pid, secret);
    const client = this.byPid.get(pid);
    if (!client) return;
    const want = Buffer.alloc(4);
    want.writeInt32BE(client.info.cancelSecret);
    const got = Buffer.alloc(4);
    got.writeInt32BE(secret);
    if (!timingSafeEqual(want, got)) return;
    const server = client.server;
    if (!server) return;
    sendUpstreamCancel(server.pool.target, server.backendPid, server.backendSecret).catch((err: unknown) =>
      this.log.warn({ event: 'cancel_failed', pool: server.pool.key, reason: errorMessage(err) }, 'cancel request could not be forwarded'),
    );
  }
}
