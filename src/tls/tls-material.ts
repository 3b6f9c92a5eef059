/**
 * Whether a set of TLS files (a certificate chain, its private key, a CA bundle) is whole and
 * consistent enough to be put in force while the gateway runs. Tools that renew certificates
 * (cert-manager, step, spiffe-helper, Vault Agent, `pgmoat issue-server`) write the certificate
 * and the key one after the other, sometimes in place: between the two writes the files on disk
 * are a pair that does not match, or a file cut short. Such a set is never loaded; the set in
 * force keeps serving until the files agree again.
 *
 * Trust material never moves backwards: a certificate that has expired, or that is older than
 * the one in force (an earlier notBefore), is refused too. So is one that is not valid yet, or
 * has been for less than NOT_BEFORE_SKEW_MS: clients would refuse it. Its owner tries again
 * until it is. The certificate in force itself is never refused for its
 * dates: loading it again moves nothing.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { pemBlocks } from '@pgmoat/client/internal';
import { PgmoatError, errorMessage } from '../util/errors.js';
import { normalizeSerial } from '../util/serial.js';

/**
 * How long a certificate must have been valid, on this clock, before it is loaded: clients check
 * notBefore against their own clocks, and one running a little behind this one would refuse a
 * certificate that has only just become valid here.
 */
export const NOT_BEFORE_SKEW_MS = 5_000;

/** The PEM texts of one set, as read from the files. */
export interface TlsMaterialText {
  /** The certificate, possibly followed by intermediates (a chain file). */
  cert?: string | undefined;
  key?: string | undefined;
  passphrase?: string | undefined;
  ca?: string | undefined;
}

/** What a log line and the rollback check need of a certificate. */
export interface CertificateSummary {
  /** SHA-256, colon-separated uppercase hex as Node writes it. */
  fingerprint256: string;
  /** Lowercase hex (util/serial.ts). */
  serial: string;
  notBefore: Date;
  notAfter: Date;
  subject: string;
}

function summarize(cert: X509Certificate): CertificateSummary {
  return {
    fingerprint256: cert.fingerprint256,
    serial: normalizeSerial(cert.serialNumber),
    notBefore: new Date(cert.validFrom),
    notAfter: new Date(cert.validTo),
    subject: cert.subject.replace(/\n/g, ', '),
  };
}

/**
 * Every certificate of a PEM file, refusing a file that holds none or one cut short (a BEGIN
 * line without its END, the mark of a file read while it was being written).
 */
export function parseCertificates(text: string, what: string): X509Certificate[] {
  const blocks = pemBlocks(text).filter((b) => b.label === 'CERTIFICATE');
  const begun = text.split('-----BEGIN ').length - 1;
  if (blocks.length === 0 || begun !== pemBlocks(text).length) {
    throw new PgmoatError('CERT_INVALID', `${what} is not whole PEM certificates (empty, cut short, or being written)`);
  }
  return blocks.map((b) => {
    try {
      return new X509Certificate(b.der);
    } catch (err) {
      throw new PgmoatError('CERT_INVALID', `${what} holds a certificate that does not parse: ${errorMessage(err)}`, { cause: err });
    }
  });
}

function parseKey(text: string, passphrase: string | undefined, what: string): KeyObject {
  const begun = text.split('-----BEGIN ').length - 1;
  if (pemBlocks(text).length === 0 || begun !== pemBlocks(text).length) {
    throw new PgmoatError('KEY_INVALID', `${what} is not a whole PEM private key (empty, cut short, or being written)`);
  }
  try {
    return createPrivateKey(passphrase !== undefined ? { key: text, passphrase } : { key: text });
  } catch (err) {
    throw new PgmoatError('KEY_INVALID', `${what} does not parse as a private key${passphrase !== undefined ? ' with its passphrase' : ''}: ${errorMessage(err)}`, { cause: err });
  }
}

export interface CheckedMaterial {
  /** The leaf certificate, when the set has one. */
  leaf: CertificateSummary | undefined;
  /** The certificates of the CA bundle, when the set has one. */
  caCount: number;
}

export interface MaterialNames {
  cert: string;
  key: string;
  ca: string;
}

/**
 * Checks a set: every file parses whole, the key belongs to the certificate, the certificate is
 * within its validity. Throws a PgmoatError: CERT_INVALID, KEY_INVALID, KEY_MISMATCH,
 * TLS_CERT_EXPIRED, TLS_CERT_NOT_YET_VALID. With `inForce`, a certificate other than it must not
 * start earlier (TLS_CERT_ROLLBACK), and the one in force is not checked for its dates.
 */
export function checkTlsMaterial(
  m: TlsMaterialText,
  names: MaterialNames,
  opts: {
    now?: Date;
    inForce?: CertificateSummary | undefined;
    /** false: a certificate out of its validity passes (at start: OpenSSL serves it, and doctor says so). */
    refuseExpired?: boolean;
  } = {},
): CheckedMaterial {
  const now = opts.now ?? new Date();
  let leaf: CertificateSummary | undefined;
  if (m.cert !== undefined) {
    const chain = parseCertificates(m.cert, names.cert);
    const first = chain[0]!;
    if (m.key !== undefined) {
      const key = parseKey(m.key, m.passphrase, names.key);
      if (!first.checkPrivateKey(key)) {
        throw new PgmoatError('KEY_MISMATCH', `${names.key} does not belong to the certificate in ${names.cert}`, {
          hint: 'Write the certificate and its key as a pair; the set in force keeps serving until they match.',
        });
      }
    }
    leaf = summarize(first);
    const before = opts.inForce;
    const isInForce = before !== undefined && before.fingerprint256 === leaf.fingerprint256;
    if (opts.refuseExpired !== false && !isInForce) {
      if (leaf.notAfter.getTime() <= now.getTime()) {
        throw new PgmoatError('TLS_CERT_EXPIRED', `the certificate in ${names.cert} (serial ${leaf.serial}) expired at ${leaf.notAfter.toISOString()}`);
      }
      if (now.getTime() < leaf.notBefore.getTime() + NOT_BEFORE_SKEW_MS) {
        throw new PgmoatError(
          'TLS_CERT_NOT_YET_VALID',
          `the certificate in ${names.cert} (serial ${leaf.serial}) is not valid before ${leaf.notBefore.toISOString()}: clients would refuse it; it is loaded ${NOT_BEFORE_SKEW_MS / 1000} s after that`,
          { hint: 'The files are read again every few seconds until then; a clock set behind also causes this.' },
        );
      }
    }
    if (before && !isInForce && leaf.notBefore.getTime() < before.notBefore.getTime()) {
      throw new PgmoatError(
        'TLS_CERT_ROLLBACK',
        `the certificate in ${names.cert} (serial ${leaf.serial}, notBefore ${leaf.notBefore.toISOString()}) is older than the one in force (serial ${before.serial}, notBefore ${before.notBefore.toISOString()})`,
      );
    }
  } else if (m.key !== undefined) {
    parseKey(m.key, m.passphrase, names.key);
  }
  const caCount = m.ca !== undefined ? parseCertificates(m.ca, names.ca).length : 0;
  return { leaf, caCount };
}

/** The leaf of a certificate file already in force (read at start or at a reload), if it parses. */
export function leafSummary(certPem: string | undefined): CertificateSummary | undefined {
  if (certPem === undefined) return undefined;
  try {
    return summarize(parseCertificates(certPem, 'certificate')[0]!);
  } catch {
    return undefined;
  }
}
