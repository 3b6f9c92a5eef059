/**
 * The TLS handshake, done with verification switched off so that the doctor can look at the
 * server's certificate itself and say what is wrong with it. Nothing but the handshake
 * happens on this socket until the server certificate step has passed.
 */
import { X509Certificate } from 'node:crypto';
import { isIP, type Socket } from 'node:net';
import { connect, type ConnectionOptions, type DetailedPeerCertificate, type PeerCertificate, type TLSSocket } from 'node:tls';
import type { CaMaterial, ClientMaterial } from './material.js';

export interface HandshakeInput {
  socket: Socket;
  host: string;
  ca: CaMaterial;
  /** Presented when given; without it the handshake goes on without a client certificate. */
  client: ClientMaterial | undefined;
  timeoutMs: number;
}

export interface PeerChain {
  /** The server's certificate as Node reports it (for tls.checkServerIdentity). */
  peer: PeerCertificate;
  /** Leaf first, then what the server sent or Node found above it. */
  chain: X509Certificate[];
}

export type HandshakeOutcome =
  | {
      kind: 'secure';
      socket: TLSSocket;
      server: PeerChain;
      /** OpenSSL's verdict on the server's chain against the CA (e.g. UNABLE_TO_VERIFY_LEAF_SIGNATURE); undefined when it verified. */
      verifyError: string | undefined;
      protocol: string;
      cipher: string;
      /** An error the socket raised after the handshake, before anyone else listened (a late TLS alert). */
      lateError: () => NodeJS.ErrnoException | undefined;
    }
  | {
      kind: 'failed';
      error: NodeJS.ErrnoException;
      /** Present when the server's certificate arrived before the failure. */
      server: PeerChain | undefined;
    }
  | { kind: 'timeout'; server: PeerChain | undefined };

function peerChain(socket: TLSSocket): PeerChain | undefined {
  let peer: DetailedPeerCertificate;
  try {
    peer = socket.getPeerCertificate(true);
  } catch {
    return undefined;
  }
  if (!peer || !peer.raw) return undefined;
  const chain: X509Certificate[] = [];
  const seen = new Set<string>();
  let cur: DetailedPeerCertificate | undefined = peer;
  while (cur?.raw && !seen.has(cur.fingerprint256)) {
    seen.add(cur.fingerprint256);
    chain.push(new X509Certificate(cur.raw));
    cur = cur.issuerCertificate;
  }
  return { peer, chain };
}

function tlsOptions(input: Omit<HandshakeInput, 'timeoutMs'>): ConnectionOptions {
  const { socket, host, ca, client } = input;
  return {
    socket,
    ...(isIP(host) === 0 ? { servername: host } : {}),
    ...(ca.kind === 'file' ? { ca: ca.pem } : {}),
    ...(client
      ? {
          cert: client.certs.map((c) => c.toString()).join(''),
          key: client.keyPem,
          ...(client.passphrase !== undefined ? { passphrase: client.passphrase } : {}),
        }
      : {}),
    // Verification is done by the server-certificate step, which can say why it fails.
    rejectUnauthorized: false,
    checkServerIdentity: () => undefined,
    ALPNProtocols: ['postgresql'],
  };
}

export function handshake(input: HandshakeInput): Promise<HandshakeOutcome> {
  return new Promise((resolve) => {
    const socket = connect(tlsOptions(input));
    let settled = false;
    const settle = (outcome: HandshakeOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.off('secureConnect', onSecure);
      socket.off('error', onError);
      if (outcome.kind !== 'secure') socket.destroy();
      resolve(outcome);
    };
    const onSecure = (): void => {
      const server = peerChain(socket);
      if (!server) {
        settle({ kind: 'failed', error: Object.assign(new Error('the server sent no certificate'), { code: 'NO_SERVER_CERTIFICATE' }), server: undefined });
        return;
      }
      const err = socket.authorizationError as unknown;
      const verifyError = socket.authorized ? undefined : err instanceof Error ? ((err as NodeJS.ErrnoException).code ?? err.message) : (err as string | null) ?? 'UNKNOWN';
      const cipher = socket.getCipher();
      let late: NodeJS.ErrnoException | undefined;
      socket.on('error', (e: NodeJS.ErrnoException) => (late ??= e));
      settle({
        kind: 'secure',
        socket,
        server,
        verifyError,
        protocol: socket.getProtocol() ?? 'TLS',
        cipher: cipher?.standardName ?? cipher?.name ?? '',
        lateError: () => late,
      });
    };
    const onError = (error: NodeJS.ErrnoException): void => settle({ kind: 'failed', error, server: peerChain(socket) });
    const timer = setTimeout(() => settle({ kind: 'timeout', server: peerChain(socket) }), input.timeoutMs);
    socket.once('secureConnect', onSecure);
    socket.once('error', onError);
  });
}
