/**
 * The client-side tls.Server of a gateway across reloads: a reload gives it a new secure context,
 * or a new server when what only a server holds changes (requestCert, tickets); its ticket keys
 * follow the trust and the revoked serials (ticketKeysFor), after every change of either.
 */
import type { Server, TLSSocket } from 'node:tls';
import { createClientTlsServer, requiresClientCertificate, secureContextOptions, setTicketKeys, type ClientTlsSettings } from './client-tls.js';

export interface ClientTlsHandlers {
  secureConnection(socket: TLSSocket): void;
  tlsClientError(err: Error, socket: TLSSocket): void;
}

export class ClientTlsEndpoint {
  private current: Server | undefined;
  private settings: ClientTlsSettings | undefined;
  private revoked: readonly string[] = [];

  constructor(
    /** What the ticket keys derive from (see ticketKeysFor); shared by the workers of a cluster. */
    private readonly ticketSecret: Buffer,
    private readonly handlers: ClientTlsHandlers,
  ) {}

  /** undefined when TLS is off (tls.mode disable since start). */
  get server(): Server | undefined {
    return this.current;
  }

  /**
   * Settings at start and at every reload (undefined: TLS off; a server already made stays for
   * the connections in its hands). New connections use them; established ones keep theirs.
   */
  configure(settings: ClientTlsSettings | undefined, handshakeTimeoutMs: number): void {
    if (!settings) return;
    const before = this.settings;
    // requestCert and tickets are options of the server, not of its context: a change needs a new server.
    const sameServer = before !== undefined && requiresClientCertificate(before.mode) === requiresClientCertificate(settings.mode) && before.sessionTickets === settings.sessionTickets;
    // Settings that OpenSSL refuses (a key that does not match) throw here and change nothing.
    if (this.current && sameServer) this.current.setSecureContext(secureContextOptions(settings));
    else this.current = this.create(settings, handshakeTimeoutMs);
    this.settings = settings;
    // A new context has random keys: derive them again.
    this.applyTicketKeys();
  }

  /** The revoked serials changed: tickets issued before a new revocation no longer resume. */
  setRevoked(serials: readonly string[]): void {
    this.revoked = serials;
    this.applyTicketKeys();
  }

  private applyTicketKeys(): void {
    if (this.current && this.settings) setTicketKeys(this.current, this.ticketSecret, this.settings, this.revoked);
  }

  private create(settings: ClientTlsSettings, handshakeTimeoutMs: number): Server {
    const server = createClientTlsServer(settings, handshakeTimeoutMs);
    server.on('secureConnection', (socket: TLSSocket) => this.handlers.secureConnection(socket));
    server.on('tlsClientError', (err: Error, socket: TLSSocket) => this.handlers.tlsClientError(err, socket));
    return server;
  }
}
