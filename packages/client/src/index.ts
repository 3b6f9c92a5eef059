/**
 * @pgmoat/client: what an application imports to reach a pgmoat gateway with its certificate.
 *
 *   import pg from 'pg';
 *   import { sslFromEnv } from '@pgmoat/client';
 *   const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, ssl: sslFromEnv() });
 *
 * Depends on Node built-ins only (the whole pgmoat package re-exports it as `pgmoat/client`).
 */
export { sslFromEnv, type ClientSslOptions, type SslFromEnvOptions } from './ssl-from-env.js';
export { sslFollowingFiles, type FollowingSsl, type SslFollowingFilesOptions, type CertificateInUse } from './following-ssl.js';
export { PgmoatClientError, type ClientErrorCode } from './errors.js';
export { PASSPHRASE_VARIABLE, SOURCES as ENV_SOURCES, type Env } from './sources.js';
