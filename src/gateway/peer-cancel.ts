/**
 * Cancels for another gateway of the peer group (`peer_id`, `peers` in pgmoat.yaml): the 16-byte
 * CancelRequest goes to that peer's listener on a new plain TCP connection, as libpq and
 * PgBouncer send cancels, optionally after a PROXY v2 LOCAL header for a listener that requires
 * one. It is fire and forget: the client's own cancel connection is closed at once (libpq waits
 * for that close), and a peer that is down costs a warn line, nothing else. The owning peer does
 * the secret check, so the secret is only carried, never logged.
 */
import { connect } from 'node:net';
import type { Logger } from 'pino';
import * as msg from '../protocol/messages.js';
import { errorMessage } from '../util/errors.js';

export interface PeerAddress {
  host: string;
  port: number;
  /** Send a PROXY protocol v2 LOCAL header first (the peer's listener requires PROXY headers). */
  send_proxy_v2: boolean;
}

/** Connect, send and see the peer close within this; past it the cancel is given up. */
export const PEER_CANCEL_TIMEOUT_MS = 5_000;
/** Forwards in flight at most: a flood for a peer that does not answer must not use up the fds. */
const MAX_IN_FLIGHT = 512;
/** The same key coming back this soon means two peers send it to each other (a peers list that names the wrong addresses). */
const LOOP_WINDOW_MS = 1_000;

/**
 * PROXY protocol v2, command LOCAL: the 12-byte signature, version 2 + LOCAL (0x20), family
 * UNSPEC (0x00), no address block (length 0). The receiver takes the connection's own addresses.
 */
export const PROXY_V2_LOCAL = Buffer.concat([Buffer.from('\r\n\r\n\0\r\nQUIT\n', 'latin1'), Buffer.from([0x20, 0x00, 0x00, 0x00])]);

export class PeerCancels {
  private peers = new Map<number, PeerAddress>();
  private inFlight = 0;
  /** Keys forwarded within LOOP_WINDOW_MS (pid and secret), to break a forwarding loop. */
  private readonly recent = new Map<string, number>();

  constructor(
    private readonly selfId: number | undefined,
    private readonly log: Logger,
  ) {}

  /** At start and at every reload: the entry of this gateway's own id, if listed, is not used. */
  configure(peers: ReadonlyMap<number, PeerAddress>): void {
    this.peers = new Map([...peers].filter(([id]) => id !== this.selfId));
  }

  forward(peerId: number, pid: number, secret: number): void {
    const peer = this.peers.get(peerId);
    if (!peer) {
      this.log.debug({ event: 'cancel_unknown_peer', peer: peerId }, 'cancel request for a peer not in the peers list: dropped');
      return;
    }
    const now = Date.now();
    for (const [k, at] of this.recent) {
      if (now - at < LOOP_WINDOW_MS) break; // insertion order: the rest are newer
      this.recent.delete(k);
    }
    const key = `${pid}:${secret}`;
    if (this.recent.has(key)) {
      this.log.warn({ event: 'peer_cancel_loop', peer: peerId, host: peer.host, port: peer.port }, 'the same cancel request came back within a second: dropped (does every peer list the right address for each id?)');
      return;
    }
    if (this.inFlight >= MAX_IN_FLIGHT) {
      this.log.warn({ event: 'peer_cancel_failed', peer: peerId, host: peer.host, port: peer.port, reason: `${MAX_IN_FLIGHT} forwards already in flight` }, 'cancel request could not be forwarded to its peer');
      return;
    }
    this.recent.set(key, now);
    this.inFlight++;
    this.send(peer, pid, secret).then(
      () => this.log.debug({ event: 'cancel_forwarded', peer: peerId }, 'cancel request forwarded to the peer holding the session'),
      (err: unknown) =>
        this.log.warn({ event: 'peer_cancel_failed', peer: peerId, host: peer.host, port: peer.port, reason: errorMessage(err) }, 'cancel request could not be forwarded to its peer'),
    ).finally(() => this.inFlight--);
  }

  private send(peer: PeerAddress, pid: number, secret: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const socket = connect({ host: peer.host, port: peer.port, noDelay: true });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`no answer within ${PEER_CANCEL_TIMEOUT_MS} ms`));
      }, PEER_CANCEL_TIMEOUT_MS);
      let sent = false;
      socket.once('connect', () => {
        sent = true;
        const request = msg.cancelRequest(pid, secret);
        socket.end(peer.send_proxy_v2 ? Buffer.concat([PROXY_V2_LOCAL, request]) : request);
      });
      socket.on('data', () => undefined); // a peer answers nothing; whatever comes is read and dropped
      socket.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        socket.destroy();
        // After the request went out, a reset is the peer closing its side: done.
        if (sent && err.code === 'ECONNRESET') resolve();
        else reject(new Error(err.code ?? err.message));
      });
      socket.once('close', () => {
        clearTimeout(timer);
        if (sent) resolve();
        else reject(new Error('connection closed before the request went out'));
      });
    });
  }
}
