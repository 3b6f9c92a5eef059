/**
 * The gateway's own TLS server certificate. Re-issuing writes server.key, then server.crt, each
 * by atomic rename, so a gateway reloading on change never pairs a new certificate with an old key.
 */
import type { CertificateAuthority } from './authority.js';
import { caPath, PRIVATE_MODE, PUBLIC_MODE } from './ca-layout.js';
import { withCaTransaction } from './ca-transaction.js';
import { hostsOfCertificate, keyTypeOfCertificate } from './certificate-facts.js';
import { buildServerCertificate, certificatePem, randomSerial } from './certificate-profiles.js';
import { parseHosts, type HostName } from './inputs.js';
import { issuedEntry, markSuperseded, type InventoryEntry } from './inventory.js';
import { exportPrivateKeyPem, generateKeyPair, type KeyType } from './keys.js';
import { resolveValidity } from './validity.js';
import type { Signer } from './certificate-profiles.js';
import type { Lifetime } from './lifetime.js';
import { existsSync, readFileSync } from 'node:fs';

export { DEFAULT_SERVER_DAYS } from './ca-defaults.js';

export interface ServerCertificate {
  entry: InventoryEntry;
  /** As written to server.crt: the certificate, followed by the intermediate for a two-level CA. */
  certPem: string;
  keyPem: string;
  hosts: HostName[];
}

/** Signs a server certificate (no files written). Used by init and by issueServer. */
export async function signServerCertificate(
  ca: Signer,
  opts: { hosts: HostName[]; keyType: KeyType; days?: number; lifetime?: string; defaultLifetime: Lifetime; chainPem: string; now: Date },
): Promise<ServerCertificate> {
  const { notBefore, notAfter } = resolveValidity(ca, { days: opts.days, lifetime: opts.lifetime }, opts.defaultLifetime, opts.now);
  const pair = await generateKeyPair(opts.keyType);
  const serial = randomSerial();
  const cert = await buildServerCertificate(ca, {
    hosts: opts.hosts,
    publicKey: pair.publicKey,
    rsa: opts.keyType.startsWith('rsa'),
    serial,
    notBefore,
    notAfter,
  });
  const leafPem = certificatePem(cert);
  const entry = issuedEntry({ kind: 'server', name: opts.hosts[0]?.value ?? 'localhost', environment: '', serial, notBefore, notAfter, certPem: leafPem });
  // The gateway sends server.crt as its chain: clients that trust only the root need the intermediate.
  return { entry, certPem: leafPem + opts.chainPem, keyPem: exportPrivateKeyPem(pair.privateKey), hosts: opts.hosts };
}

export interface IssueServerOptions {
  /** Default: the hosts of the current server.crt, else localhost, 127.0.0.1, ::1. */
  hosts?: readonly string[];
  days?: number;
  /** `90m`, `24h`, `30d`; not together with days. Default: the CA's server lifetime. */
  lifetime?: string;
  /** Default: the key type of the current server.crt, else ec-p256. */
  keyType?: KeyType;
}

export async function issueServer(
  ca: CertificateAuthority,
  opts: IssueServerOptions = {},
): Promise<ServerCertificate & { certPath: string; keyPath: string; /** The server certificates it replaces (now superseded). */ superseded: InventoryEntry[] }> {
  const certPath = caPath(ca.dir, 'serverCert');
  const keyPath = caPath(ca.dir, 'serverKey');
  const currentPem = existsSync(certPath) ? readFileSync(certPath, 'utf8') : undefined;
  const currentHosts = currentPem ? hostsOfCertificate(currentPem) : [];
  const hosts = opts.hosts && opts.hosts.length > 0 ? parseHosts(opts.hosts) : currentHosts.length > 0 ? currentHosts : parseHosts([]);
  const keyType = opts.keyType ?? (currentPem ? keyTypeOfCertificate(currentPem) : undefined) ?? 'ec-p256';
  const signed = await signServerCertificate(ca, {
    hosts,
    keyType,
    days: opts.days,
    lifetime: opts.lifetime,
    defaultLifetime: ca.defaults.server,
    chainPem: ca.chainPem,
    now: new Date(),
  });
  const { value: superseded } = await withCaTransaction(ca, async (tx) => {
    // The server certificates this one replaces in server.crt: still valid, no longer the one in use.
    const replaced = tx.inventory.certificates.filter((e) => e.kind === 'server' && e.status === 'valid' && e.supersededBy === undefined && new Date(e.notAfter) > tx.now);
    markSuperseded(replaced, signed.entry.serial, tx.now);
    tx.inventory.certificates.push(signed.entry);
    tx.stageFile(keyPath, signed.keyPem, PRIVATE_MODE);
    tx.stageFile(certPath, signed.certPem, PUBLIC_MODE);
    return replaced.map((e) => ({ ...e }));
  });
  return { ...signed, certPath, keyPath, superseded };
}
