/**
 * The client side of the renewal service, once (`pgmoat renew --remote`): make a new key and a
 * CSR here, send the CSR over mutual TLS with the current pair, check the answer, then replace
 * the pair (pair-files.ts). The private key never leaves this host, and no CA directory is needed.
 */
import { request } from 'node:https';
import { X509Certificate } from 'node:crypto';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PgmoatError, errorMessage } from '../util/errors.js';
import { readPrivateFile } from '../util/private-file.js';
import { normalizeSerial } from '../util/serial.js';
import { makeRenewalRequest } from '../ca/renewal-csr.js';
import { isEncryptedPem, type KeyType } from '../ca/keys.js';
import { pemBlocks } from '@pgmoat/client/internal';
import { recoverPair, replacePair } from './pair-files.js';
import { readTextFile } from '../util/file-problem.js';

export interface RemoteRenewOptions {
  /** https://HOST:PORT of the renewal service (a path other than /v1/renew is replaced). */
  url: string;
  certPath: string;
  keyPath: string;
  /** The CA bundle that signs the service's certificate; default ca.crt beside the certificate. */
  caPath?: string | undefined;
  /** The passphrase of the current key; the new key is encrypted with it too. */
  keyPassphrase?: string | undefined;
  keyType?: KeyType | undefined;
  timeoutMs?: number;
}

export interface RemoteRenewResult {
  oldSerial: string;
  serial: string;
  notAfter: Date;
  /** What a previous, killed run left behind and this one cleaned up. */
  recovered: 'none' | 'completed' | 'discarded';
}


function renewUrl(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new PgmoatError('USAGE', `invalid --remote ${JSON.stringify(url)}: use https://HOST:PORT`);
  }
  if (u.protocol !== 'https:') throw new PgmoatError('USAGE', `--remote must be an https:// URL, got ${u.protocol}`);
  u.pathname = '/v1/renew';
  return u;
}

function post(url: URL, body: string, tls: { cert: string; key: Buffer; ca: string; caPath: string; passphrase?: string | undefined }, timeoutMs: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        cert: tls.cert,
        key: tls.key,
        ...(tls.passphrase !== undefined ? { passphrase: tls.passphrase } : {}),
        ca: tls.ca,
        minVersion: 'TLSv1.2',
        headers: { 'content-type': 'application/pkcs10', accept: 'application/pem-certificate-chain', 'content-length': Buffer.byteLength(body) },
        timeout: timeoutMs,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          if (text.length < 1_000_000) text += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err) => {
      // The CLI and the agent's log show the message alone: what to do goes in it.
      const advice = unreachableAdvice(err, tls.caPath);
      reject(new PgmoatError('RENEWAL_UNREACHABLE', `cannot reach the renewal service at ${url.origin}: ${errorMessage(err)}${advice ? `; ${advice}` : ''}`, { cause: err }));
    });
    req.end(body);
  });
}

/** Node's codes for a server certificate that does not verify against the CA bundle given. */
const UNTRUSTED_SERVER = new Set(['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'SELF_SIGNED_CERT_IN_CHAIN', 'DEPTH_ZERO_SELF_SIGNED_CERT']);

/** What to do about a service that could not be reached, when the error says it. */
function unreachableAdvice(err: Error, caPath: string): string | undefined {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ECONNREFUSED') return 'nothing listens there: check the host and port of --remote, and that pgmoat ca serve (or serve with renewal:) runs';
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return "the service's certificate does not name the host in --remote: use a host name it was issued for";
  if (code !== undefined && UNTRUSTED_SERVER.has(code)) return `the service's certificate does not verify against ${caPath}: pass --ca with the bundle of the CA that signs it`;
  return undefined;
}

function refusal(status: number, body: string): PgmoatError {
  let code = 'unknown';
  let message = body.slice(0, 200);
  try {
    const parsed = JSON.parse(body) as { code?: unknown; message?: unknown };
    if (typeof parsed.code === 'string') code = parsed.code;
    if (typeof parsed.message === 'string') message = parsed.message;
  } catch {
    // not JSON: keep the start of the body
  }
  return new PgmoatError('RENEWAL_REFUSED', `renewal refused (HTTP ${status} ${code}): ${message}`, { detail: code });
}

/** The certificates of the answer a client presents: the leaf and any intermediate, not a self-signed root. */
function presentedChain(pem: string): { leaf: X509Certificate; pem: string } {
  const certs = pemBlocks(pem).filter((b) => b.label === 'CERTIFICATE').map((b) => new X509Certificate(b.der));
  const leaf = certs[0];
  if (!leaf) throw new PgmoatError('RENEWAL_UNREACHABLE', 'the renewal service answered 200 without a certificate');
  const keep = certs.filter((c, i) => i === 0 || !(c.issuer === c.subject && c.verify(c.publicKey)));
  return { leaf, pem: keep.map((c) => c.toString()).join('') };
}

export async function remoteRenew(opts: RemoteRenewOptions): Promise<RemoteRenewResult> {
  const url = renewUrl(opts.url);
  const recovered = recoverPair(opts.certPath, opts.keyPath, opts.keyPassphrase);
  // Only the certificates: with one file for both (isOneFile), it holds the key too.
  const certPem = pemBlocks(readTextFile(opts.certPath, 'certificate'))
    .filter((b) => b.label === 'CERTIFICATE')
    .map((b) => b.text)
    .join('');
  const keyData = readPrivateFile(opts.keyPath, 'private key');
  if (isEncryptedPem(keyData.toString('latin1')) && opts.keyPassphrase === undefined) {
    throw new PgmoatError('KEY_PASSPHRASE_REQUIRED', `private key ${opts.keyPath} is encrypted: pass --key-passphrase-file FILE`);
  }
  const caPath = opts.caPath ?? join(dirname(opts.certPath), 'ca.crt');
  if (!existsSync(caPath)) throw new PgmoatError('USAGE', `no CA bundle to check the renewal service with: ${caPath} does not exist; pass --ca FILE`);
  const ca = readTextFile(caPath, 'CA bundle');
  const oldSerial = normalizeSerial(new X509Certificate(certPem).serialNumber);

  const made = await makeRenewalRequest(certPem, opts.keyType, opts.keyPassphrase);
  const answer = await post(url, made.csrPem, { cert: certPem, key: keyData, ca, caPath, passphrase: opts.keyPassphrase }, opts.timeoutMs ?? 30_000);
  if (answer.status !== 200) throw refusal(answer.status, answer.body);
  let chain: { leaf: X509Certificate; pem: string };
  try {
    chain = presentedChain(answer.body);
  } catch (err) {
    throw new PgmoatError('RENEWAL_UNREACHABLE', `the renewal service answered with no usable certificate: ${errorMessage(err)}`, { cause: err });
  }
  if (!chain.leaf.publicKey.export({ format: 'der', type: 'spki' }).equals(made.publicKeySpki)) {
    throw new PgmoatError('RENEWAL_UNREACHABLE', 'the renewal service answered with a certificate for another key; nothing was written');
  }
  replacePair(opts.certPath, opts.keyPath, chain.pem, made.keyPem);
  return { oldSerial, serial: normalizeSerial(chain.leaf.serialNumber), notAfter: new Date(chain.leaf.validTo), recovered };
}
