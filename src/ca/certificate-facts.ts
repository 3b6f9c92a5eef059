/** Facts read back from issued certificates (Node's parser, the one the gateway also uses). */
import { X509Certificate } from 'node:crypto';
import type { KeyType } from './keys.js';
import type { HostName } from './inputs.js';

/** The pgmoat key type of a certificate's public key, when it is one of ours. */
export function keyTypeOfCertificate(pem: string): KeyType | undefined {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch {
    return undefined;
  }
  const key = cert.publicKey;
  const details = key.asymmetricKeyDetails ?? {};
  if (key.asymmetricKeyType === 'ec') {
    if (details.namedCurve === 'prime256v1') return 'ec-p256';
    if (details.namedCurve === 'secp384r1') return 'ec-p384';
    return undefined;
  }
  if (key.asymmetricKeyType === 'rsa') {
    const bits = details.modulusLength;
    if (bits === 2048 || bits === 3072 || bits === 4096) return `rsa-${bits}`;
  }
  return undefined;
}

/** The DNS and IP SANs of a certificate, in order. */
export function hostsOfCertificate(pem: string): HostName[] {
  let san: string | undefined;
  try {
    san = new X509Certificate(pem).subjectAltName;
  } catch {
    return [];
  }
  if (!san) return [];
  const hosts: HostName[] = [];
  for (const part of san.split(', ')) {
    if (part.startsWith('DNS:')) hosts.push({ type: 'dns', value: part.slice(4) });
    else if (part.startsWith('IP Address:')) hosts.push({ type: 'ip', value: part.slice(11) });
  }
  return hosts;
}
