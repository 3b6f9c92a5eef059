/**
 * Certificates made by the openssl command the way other issuers make them, for the tests of SAN
 * identities: a CA of its own (the gateway is told to trust it next to pgmoat's), and leaves
 *   - spire:        SPIRE's X.509-SVID: empty subject but O, no CN, one URI SAN (the SPIFFE ID),
 *                   keyUsage digitalSignature+keyEncipherment+keyAgreement, EKU clientAuth+serverAuth;
 *   - certManager:  cert-manager's Certificate: CN plus DNS SANs, EKU clientAuth (usages: client auth);
 *   - vault:        Vault PKI's issue endpoint: CN plus DNS and URI SANs (uri_sans), EKU clientAuth.
 *
 *   const ca = makeOpensslCa(dir, 'spire-ca');
 *   const svid = ca.spire('spiffe://prod.example/ns/prod/sa/api');
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ClientFiles } from './cert-factory.js';

export interface OpensslCa {
  readonly dir: string;
  readonly caPath: string;
  readonly caPem: string;
  /** A SPIRE-style SVID: no CN, only the URI SAN. */
  spire(spiffeId: string, opts?: { name?: string }): ClientFiles;
  /** A cert-manager-style certificate: CN and DNS SANs. */
  certManager(cn: string, dnsNames: readonly string[]): ClientFiles;
  /** A Vault-PKI-style certificate: CN, DNS and URI SANs. */
  vault(cn: string, sans: { dns?: readonly string[]; uri?: readonly string[] }): ClientFiles;
}

function openssl(args: readonly string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

let counter = 0;

/**
 * A root CA made with openssl (EC P-256). `rootCaPath` is the CA a client uses to verify the
 * gateway (pgmoat's main CA): it goes into every ClientFiles as caPath.
 */
export function makeOpensslCa(parent: string, name: string, rootCaPath: string): OpensslCa {
  const dir = join(parent, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'ca.cnf'),
    ['[req]', 'distinguished_name = dn', 'prompt = no', '[dn]', `O = ${name}`, `CN = ${name} root`, '[ext]', 'basicConstraints = critical,CA:TRUE', 'keyUsage = critical,keyCertSign,cRLSign', 'subjectKeyIdentifier = hash', ''].join('\n'),
  );
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ca.key'], dir);
  chmodSync(join(dir, 'ca.key'), 0o600);
  openssl(['req', '-x509', '-new', '-key', 'ca.key', '-sha256', '-days', '30', '-config', 'ca.cnf', '-extensions', 'ext', '-out', 'ca.crt'], dir);
  const caPath = join(dir, 'ca.crt');

  const leaf = (label: string, subject: string, ext: readonly string[]): ClientFiles => {
    const base = `${label}-${++counter}`;
    writeFileSync(join(dir, `${base}.ext`), ['[ext]', ...ext, ''].join('\n'));
    openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${base}.ec.key`], dir);
    // PKCS#8, as the other test keys (and what node-postgres and libpq both read).
    openssl(['pkcs8', '-topk8', '-nocrypt', '-in', `${base}.ec.key`, '-out', `${base}.key`], dir);
    chmodSync(join(dir, `${base}.key`), 0o600);
    openssl(['req', '-new', '-key', `${base}.key`, '-subj', subject, '-out', `${base}.csr`], dir);
    openssl(
      ['x509', '-req', '-in', `${base}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-sha256', '-days', '2', '-extfile', `${base}.ext`, '-extensions', 'ext', '-out', `${base}.crt`],
      dir,
    );
    const certPem = readFileSync(join(dir, `${base}.crt`), 'utf8');
    const serial = execFileSync('openssl', ['x509', '-noout', '-serial', '-in', join(dir, `${base}.crt`)], { encoding: 'utf8' }).trim().replace(/^serial=/, '').toLowerCase();
    return {
      name: label,
      environment: '',
      certPath: join(dir, `${base}.crt`),
      keyPath: join(dir, `${base}.key`),
      caPath: rootCaPath,
      issuerCaPath: caPath,
      certPem,
      keyPem: readFileSync(join(dir, `${base}.key`), 'utf8'),
      serial,
    };
  };
  const clientExt = (sans: readonly string[], eku = 'clientAuth'): string[] => [
    'basicConstraints = critical,CA:FALSE',
    'keyUsage = critical,digitalSignature,keyEncipherment,keyAgreement',
    `extendedKeyUsage = ${eku}`,
    'subjectKeyIdentifier = hash',
    'authorityKeyIdentifier = keyid',
    `subjectAltName = ${sans.join(',')}`,
  ];
  return {
    dir,
    caPath,
    caPem: readFileSync(caPath, 'utf8'),
    // SPIRE's default X509-SVID subject is O=SPIRE (plus C=US); the SPIFFE ID is the only SAN.
    spire: (id, opts = {}) => leaf(opts.name ?? 'svid', '/C=US/O=SPIRE', clientExt([`URI:${id}`], 'serverAuth,clientAuth')),
    certManager: (cn, dns) => leaf(cn, `/CN=${cn}`, clientExt(dns.map((d) => `DNS:${d}`))),
    vault: (cn, sans) => leaf(cn, `/CN=${cn}`, clientExt([...(sans.dns ?? []).map((d) => `DNS:${d}`), ...(sans.uri ?? []).map((u) => `URI:${u}`)])),
  };
}
