/**
 * Certificate signing requests made elsewhere (openssl req, a platform's key store). Only the
 * public key is taken from a CSR, after its self-signature checks out; its subject and any
 * extensions it asks for (CA:TRUE, serverAuth, SANs) are ignored.
 */
import * as x509 from './x509.js';
import { PgmoatError } from '../util/errors.js';
import { checkSubjectPublicKey } from './keys.js';
import { pemBlocks } from '@pgmoat/client/internal';
import { looksLikePem } from './pem.js';

const CSR_LABELS = ['CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST'];

export interface VerifiedCsr {
  /** SPKI DER of the requested key. */
  publicKey: ArrayBuffer;
  rsa: boolean;
}

export async function readCsr(data: Uint8Array | string, what = 'CSR'): Promise<VerifiedCsr> {
  let der: Uint8Array;
  if (looksLikePem(data)) {
    const text = typeof data === 'string' ? data : Buffer.from(data).toString('latin1');
    const blocks = pemBlocks(text);
    const block = blocks.find((b) => CSR_LABELS.includes(b.label));
    if (!block) {
      const found = blocks[0]?.label;
      throw new PgmoatError('CSR_MALFORMED', `${what} is not a certificate request${found ? ` (it holds a ${found})` : ''}; create one with: openssl req -new -key KEY -subj /CN=NAME -out FILE`);
    }
    der = block.der;
  } else {
    der = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
  }
  let csr: x509.Pkcs10CertificateRequest;
  try {
    csr = new x509.Pkcs10CertificateRequest(Uint8Array.from(der));
  } catch (err) {
    throw new PgmoatError('CSR_MALFORMED', `${what} cannot be parsed as a PKCS#10 certificate request`, { cause: err });
  }
  const publicKey = csr.publicKey.rawData;
  const { rsa } = checkSubjectPublicKey(new Uint8Array(publicKey), what);
  let ok: boolean;
  try {
    ok = await csr.verify();
  } catch (err) {
    throw new PgmoatError('CSR_BAD_SIGNATURE', `${what} has a signature pgmoat cannot check (unsupported algorithm)`, { cause: err });
  }
  if (!ok) {
    throw new PgmoatError('CSR_BAD_SIGNATURE', `${what} has an invalid signature: it was altered or not signed by its own key; create it again`);
  }
  return { publicKey, rsa };
}
