/**
 * @pgmoat/client/internal: the pieces the pgmoat gateway and CLI reuse (the PEM reader, where
 * material comes from, the certificate and key checks). For pgmoat itself: no stability promise,
 * import the package root instead.
 */
export { pemBlocks, decodeB64Pem, isEncryptedKey, PRIVATE_KEY_LABELS, type PemBlock } from './pem.js';
export { readMaterial, SOURCES, PASSPHRASE_VARIABLE, type Env, type Material, type SourceNames } from './sources.js';
export { checkClientCertificate, checkKeyMatches, loadPrivateKey, parseCertificates } from './verify.js';
export { PgmoatClientError, type ClientErrorCode } from './errors.js';
