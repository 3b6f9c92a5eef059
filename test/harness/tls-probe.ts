/** Small probes the TLS reload tests share: what a new handshake is served, and a process's JSON log. */
import { connect as tlsConnect } from 'node:tls';

/**
 * The SHA-256 fingerprint of the certificate a new mutual-TLS handshake to `port` gets. `alpn`:
 * ['postgresql'] for the gateway's direct TLS; none for an HTTPS listener.
 */
export function servedFingerprint(port: number, client: { certPem: string; keyPem: string }, caPem: string, alpn?: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ...(alpn ? { ALPNProtocols: alpn } : {}), ca: caPem, cert: client.certPem, key: client.keyPem });
    s.once('secureConnect', () => {
      const fp = s.getPeerCertificate().fingerprint256;
      s.destroy();
      resolve(fp);
    });
    s.once('error', reject);
  });
}

/** The JSON lines of a process's output (pino); a line cut short reads as {}. */
export function jsonLogLines(out: string): Record<string, unknown>[] {
  return out
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        return {};
      }
    });
}
