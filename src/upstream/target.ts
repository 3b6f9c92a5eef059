/** Everything needed to open one server connection to an upstream PostgreSQL. */
import type { TlsMode } from '../tls/tls-mode.js';

export interface UpstreamTls {
  mode: TlsMode;
  /** PEM bundle of CAs for verify-ca / verify-full. */
  ca?: string | undefined;
  /** Client certificate and key for mutual TLS to PostgreSQL. */
  cert?: string | undefined;
  key?: string | undefined;
  passphrase?: string | undefined;
  /** Name checked against the server certificate in verify-full (default: host). */
  servername?: string | undefined;
  minVersion: 'TLSv1.2' | 'TLSv1.3';
}

export interface UpstreamTarget {
  /** For messages: the configured database name clients use. */
  label: string;
  host: string;
  port: number;
  dbname: string;
  user: string;
  password: string | undefined;
  tls: UpstreamTls;
  connectTimeoutMs: number;
  /** Extra startup parameters sent to every server connection. */
  startupParams?: ReadonlyMap<string, string>;
}
