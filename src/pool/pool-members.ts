/**
 * A pool's clients and servers, one collection per phase. The only place a phase changes:
 * setClientPhase / setServerPhase move the object between the collections as they set it, so
 * counts are derived from the collections and never stored twice. clients() and servers() are
 * the one way to visit them all.
 */
import type { ClientPhase, ClientSession } from '../relay/client-session.js';
import type { ServerConnection, ServerPhase } from '../relay/server-connection.js';
import { assertNever } from '../util/errors.js';

/** A server connection of a pool: its linked client is a ClientSession. */
export type Server = ServerConnection<ClientSession>;

export class PoolMembers {
  /** A stack: the server idle for the shortest time is reused first (warm caches, older ones age out). */
  readonly idleServers: Server[] = [];
  readonly activeServers = new Set<Server>();
  /** Running pgmoat's own query: check, reset or session settings. */
  readonly internalServers = new Set<Server>();
  readonly idleClients = new Set<ClientSession>();
  /** A queue: first come, first served. */
  readonly waitingClients: ClientSession[] = [];
  readonly activeClients = new Set<ClientSession>();

  /** Server connections open (the opener counts those being opened). */
  get openServers(): number {
    return this.idleServers.length + this.activeServers.size + this.internalServers.size;
  }

  get clientCount(): number {
    return this.idleClients.size + this.waitingClients.length + this.activeClients.size;
  }

  /**
   * Every client: idle, then waiting, then active. Teardown relies on this order: the waiting
   * are gone before an active client's server is released, so none is handed one on the way.
   * Take a copy ([...clients()]) to close them while visiting.
   */
  *clients(): Generator<ClientSession, void, undefined> {
    yield* this.idleClients;
    yield* this.waitingClients;
    yield* this.activeClients;
  }

  /** Every open server: active, then internal, then idle. */
  *servers(): Generator<Server, void, undefined> {
    yield* this.activeServers;
    yield* this.internalServers;
    yield* this.idleServers;
  }

  /** A client that finished login (its phase starts as 'idle'). */
  addClient(client: ClientSession): void {
    this.idleClients.add(client);
  }

  /** A server connection just opened (its phase starts as 'idle'). */
  addServer(server: Server): void {
    this.idleServers.push(server);
  }

  setServerPhase(server: Server, to: ServerPhase): void {
    const from = server.phase;
    switch (from) {
      case 'idle':
        removeFrom(this.idleServers, server);
        break;
      case 'active':
        this.activeServers.delete(server);
        break;
      case 'internal':
        this.internalServers.delete(server);
        break;
      case 'closed':
        return; // closed is final
      default:
        assertNever(from, 'server phase');
    }
    server.phase = to;
    switch (to) {
      case 'idle':
        server.idleSince = Date.now();
        this.idleServers.push(server);
        break;
      case 'active':
        this.activeServers.add(server);
        break;
      case 'internal':
        this.internalServers.add(server);
        break;
      case 'closed':
        break;
      default:
        assertNever(to, 'server phase');
    }
  }

  setClientPhase(client: ClientSession, to: ClientPhase): void {
    const from = client.phase;
    switch (from) {
      case 'idle':
        this.idleClients.delete(client);
        break;
      case 'waiting':
        removeFrom(this.waitingClients, client);
        break;
      case 'active':
        this.activeClients.delete(client);
        break;
      case 'closed':
        return;
      default:
        assertNever(from, 'client phase');
    }
    client.phase = to;
    switch (to) {
      case 'idle':
        this.idleClients.add(client);
        break;
      case 'waiting':
        client.waitingSince = Date.now();
        this.waitingClients.push(client);
        break;
      case 'active':
        this.activeClients.add(client);
        break;
      case 'closed':
        break;
      default:
        assertNever(to, 'client phase');
    }
  }

  /** Waiting again, at the head of the queue and keeping its place in time (query_wait_timeout still counts). */
  requeueFirst(client: ClientSession): void {
    const since = client.waitingSince;
    this.setClientPhase(client, 'waiting');
    client.waitingSince = since;
    const i = this.waitingClients.indexOf(client);
    if (i > 0) {
      this.waitingClients.splice(i, 1);
      this.waitingClients.unshift(client);
    }
  }
}

/** Removes one element; the last one (a stack's top, the usual case) without a search. */
function removeFrom<T>(list: T[], item: T): void {
  const last = list.length - 1;
  if (last >= 0 && list[last] === item) {
    list.pop();
    return;
  }
  const i = list.indexOf(item);
  if (i >= 0) list.splice(i, 1);
}
