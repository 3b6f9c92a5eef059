/**
 * The soak's certificates, made with pgmoat's own CLI (init, issue, revoke, renew) so that the
 * commands operators run are what the gateway sees: crl.pem rewritten by `pgmoat revoke` and
 * picked up by the gateway's CRL watch.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pgmoat } from '../ca/run-pgmoat.js';

export interface CertFiles {
  name: string;
  cert: string;
  key: string;
  /** The CA that verifies the gateway (the soak CA's ca.crt). */
  ca: string;
}

export interface CertPem {
  cert: string;
  key: string;
  ca: string;
}

export const ENVIRONMENT = 'production';

/** Runs the pgmoat CLI; throws with its output when it fails. */
export async function cli(args: readonly string[]): Promise<string> {
  const r = await pgmoat(args);
  if (r.code !== 0) throw new Error(`pgmoat ${args.join(' ')} exited with ${r.code ?? r.signal}:\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

export class SoakPki {
  constructor(
    readonly caDir: string,
    private readonly outDir: string,
  ) {}

  get caPath(): string {
    return join(this.caDir, 'ca.crt');
  }

  static async init(caDir: string, outDir: string, caName: string): Promise<SoakPki> {
    await cli(['init', '--dir', caDir, '--ca-name', caName]);
    return new SoakPki(caDir, outDir);
  }

  files(name: string, dir = join(this.outDir, name)): CertFiles {
    return { name, cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`), ca: join(dir, 'ca.crt') };
  }

  async issue(name: string): Promise<CertFiles> {
    const f = this.files(name);
    await cli(['issue', name, '--env', ENVIRONMENT, '--dir', this.caDir, '--out', join(this.outDir, name)]);
    return f;
  }

  /** `pgmoat renew --revoke-old`: a new key and certificate in place of the old ones, which are revoked. */
  async renew(name: string): Promise<CertFiles> {
    await cli(['renew', name, '--env', ENVIRONMENT, '--dir', this.caDir, '--out', join(this.outDir, name), '--revoke-old']);
    return this.files(name);
  }

  async revoke(serial: string): Promise<void> {
    await cli(['revoke', serial, '--dir', this.caDir, '--reason', 'keyCompromise']);
  }
}

export function pemOf(f: CertFiles, verifyCa: string): CertPem {
  return { cert: readFileSync(f.cert, 'utf8'), key: readFileSync(f.key, 'utf8'), ca: readFileSync(verifyCa, 'utf8') };
}

/** The certificate's serial as `pgmoat list` prints it and `pgmoat revoke` takes it: lowercase hex in whole bytes. */
export function serialOf(certPath: string): string {
  return new X509Certificate(readFileSync(certPath)).serialNumber.toLowerCase();
}
