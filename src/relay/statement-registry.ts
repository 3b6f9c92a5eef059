/**
 * Named prepared statements in transaction mode (as PgBouncer's max_prepared_statements): a
 * statement is known by its query text and parameter types, gets one server-side name shared by
 * every client, and is prepared at most once per server connection.
 */
import { Frontend } from '../protocol/codes.js';

export interface StatementDef {
  /** The name used on server connections, e.g. PGMOAT_17. */
  readonly serverName: string;
  /** A whole Parse message under serverName: built once, written as is to any server. */
  readonly parseMessage: Buffer;
}

export class StatementRegistry {
  private readonly byText = new Map<string, StatementDef>();
  private next = 1;

  /**
   * The statement for a Parse body whose query-and-types part is buf[from, end).
   * `from` is just past the client's statement name.
   */
  lookup(buf: Buffer, from: number, end: number): StatementDef {
    const key = buf.toString('latin1', from, end);
    let def = this.byText.get(key);
    if (def === undefined) {
      const serverName = `PGMOAT_${this.next++}`;
      const nameLen = Buffer.byteLength(serverName);
      const bodyLen = 4 + nameLen + 1 + (end - from);
      const msg = Buffer.allocUnsafe(1 + bodyLen);
      msg[0] = Frontend.Parse;
      msg.writeInt32BE(bodyLen, 1);
      msg.write(serverName, 5, 'latin1');
      msg[5 + nameLen] = 0;
      buf.copy(msg, 6 + nameLen, from, end);
      def = { serverName, parseMessage: msg };
      this.byText.set(key, def);
    }
    return def;
  }

  get size(): number {
    return this.byText.size;
  }
}

/** The statements prepared on one server connection, least recently used first. */
export class ServerStatementCache {
  private readonly names = new Map<string, true>();

  constructor(public capacity: number) {}

  has(name: string): boolean {
    if (!this.names.has(name)) return false;
    // Refresh its place in the LRU order.
    this.names.delete(name);
    this.names.set(name, true);
    return true;
  }

  /** Adds a name; returns the evicted one when over capacity. */
  add(name: string): string | undefined {
    this.names.set(name, true);
    if (this.names.size <= this.capacity) return undefined;
    const oldest = this.names.keys().next().value as string;
    this.names.delete(oldest);
    return oldest;
  }

  delete(name: string): void {
    this.names.delete(name);
  }

  clear(): void {
    this.names.clear();
  }

  get size(): number {
    return this.names.size;
  }
}
