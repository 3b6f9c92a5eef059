/**
 * The quick start's certificates: a CA in DIR (with the gateway's server certificate) and the
 * client identity `demo` in DIR/clients. A second run reuses all of it; only what is missing or
 * about to expire is made again, and the CRL is re-signed so that an old DIR never fails on an
 * expired CRL.
 */
import { X509Certificate } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CA_FILES, caPath, initCa, issueClient, openCa, loadInventory, renewClient, writeCrl, type CertificateAuthority } from '../ca/index.js';
import { PgmoatError } from '../util/errors.js';

export const DEMO_IDENTITY = 'demo';
export const DEMO_ENVIRONMENT = 'production';

/** Renew the demo certificate when it has less than this left. */
const RENEW_BEFORE_MS = 7 * 24 * 3600_000;

export interface ClientFiles {
  cert: string;
  key: string;
  ca: string;
}

export interface QuickstartIdentities {
  dir: string;
  serverCert: string;
  serverKey: string;
  caCert: string;
  crl: string;
  client: ClientFiles;
  /** What this run created or renewed, for the person watching. */
  made: string[];
}

function clientFiles(dir: string): ClientFiles {
  const out = join(dir, 'clients');
  return { cert: join(out, `${DEMO_IDENTITY}.crt`), key: join(out, `${DEMO_IDENTITY}.key`), ca: join(out, 'ca.crt') };
}

function usable(files: ClientFiles): boolean {
  if (!existsSync(files.cert) || !existsSync(files.key) || !existsSync(files.ca)) return false;
  try {
    const cert = new X509Certificate(readFileSync(files.cert));
    return new Date(cert.validTo).getTime() - Date.now() > RENEW_BEFORE_MS;
  } catch {
    return false;
  }
}

async function hasIdentity(ca: CertificateAuthority): Promise<boolean> {
  return (await loadInventory(ca.dir)).certificates.some((e) => e.kind === 'client' && e.name === DEMO_IDENTITY && e.environment === DEMO_ENVIRONMENT);
}

export async function ensureIdentities(dirArg: string): Promise<QuickstartIdentities> {
  const dir = resolve(dirArg);
  const made: string[] = [];
  if (!existsSync(caPath(dir, 'caCert'))) {
    if (existsSync(caPath(dir, 'caKey'))) {
      throw new PgmoatError('CA_INCOMPLETE', `${dir} holds ${CA_FILES.caKey} but no ${CA_FILES.caCert}; restore it, or choose another --dir`);
    }
    await initCa({ dir, caName: 'pgmoat quickstart CA' });
    made.push(`a CA and the gateway's certificate in ${dir}`);
  }
  const ca = await openCa(dir);
  const files = clientFiles(dir);
  if (!usable(files)) {
    const opts = { name: DEMO_IDENTITY, environment: DEMO_ENVIRONMENT, outDir: join(dir, 'clients') };
    // A certificate in the inventory whose files are gone (or expiring) is renewed, superseding the old one.
    if (await hasIdentity(ca)) await renewClient(ca, { ...opts, revokeOld: true });
    else await issueClient(ca, opts);
    made.push(`the client identity "${DEMO_IDENTITY}" (environment ${DEMO_ENVIRONMENT}) in ${join(dir, 'clients')}`);
  }
  await writeCrl(ca);
  return {
    dir,
    serverCert: caPath(dir, 'serverCert'),
    serverKey: caPath(dir, 'serverKey'),
    caCert: caPath(dir, 'caCert'),
    crl: caPath(dir, 'crl'),
    client: files,
    made,
  };
}
