/**
 * Every error code pgmoat raises, with the SQLSTATE a PostgreSQL client sees for it. A code is
 * a promise: scripts, tests, the audit log and the doctor match on it, and a client reads it in
 * the ErrorResponse's routine field (R). The SQLSTATE is the catalogue's, never chosen at the
 * throw site, so one code always means one SQLSTATE. Two kinds of entry differ:
 * - `relayed`: the SQLSTATE is the upstream server's (its ErrorResponse, or the step of its
 *   login exchange that failed), given where the error is made;
 * - `null`: never sent to a PostgreSQL client (the CLI, the CA, configuration files).
 * docs/error-codes.md is made from this table (scripts/error-codes-doc.mjs) and a test keeps
 * them the same.
 */
import { SqlState } from './sqlstate.js';

export interface ErrorCodeEntry {
  readonly sqlstate: string | 'relayed' | null;
  /** One line for docs/error-codes.md: when the error happens. */
  readonly about: string;
  /** A value on the command line is wrong: the CLI exits 2, as for commander's own usage errors. */
  readonly usage?: true;
}

const S = SqlState;

export const ERROR_CODES = {
  // The startup packet and the messages of the login phase.
  BAD_STARTUP: { sqlstate: S.PROTOCOL_VIOLATION, about: 'the startup packet is malformed (length, terminators, a parameter without value)' },
  BAD_OPTIONS: { sqlstate: S.SYNTAX_ERROR, about: 'a -c option of the startup packet is not name=value' },
  UNSUPPORTED_STARTUP_OPTION: { sqlstate: S.FEATURE_NOT_SUPPORTED, about: 'the startup options hold something other than -c name=value' },
  UNSUPPORTED_PROTOCOL: { sqlstate: S.FEATURE_NOT_SUPPORTED, about: 'the client asks for a protocol version other than 3.x' },
  NO_USER: { sqlstate: S.INVALID_AUTHORIZATION_SPECIFICATION, about: 'the startup packet names no user' },
  SSL_REQUIRED: { sqlstate: S.INVALID_AUTHORIZATION_SPECIFICATION, about: 'a plain connection where tls.mode requires TLS' },
  PLAINTEXT_AFTER_SSLREQUEST: { sqlstate: S.PROTOCOL_VIOLATION, about: "the client sent plain bytes after pgmoat answered 'S' to its SSLRequest" },
  DIRECT_TLS_WITHOUT_ALPN: { sqlstate: S.PROTOCOL_VIOLATION, about: "a direct TLS connection (sslnegotiation=direct) without the ALPN protocol 'postgresql'" },
  BAD_MESSAGE_LENGTH: { sqlstate: S.PROTOCOL_VIOLATION, about: 'a message length field below 4: nothing after it can be framed' },
  MESSAGE_TOO_LARGE: { sqlstate: S.PROGRAM_LIMIT_EXCEEDED, about: 'a client message longer than max_packet_size' },
  BAD_MESSAGE_BODY: { sqlstate: S.PROTOCOL_VIOLATION, about: 'a message whose body is cut short or holds an unterminated string' },
  BAD_AUTH_MESSAGE: { sqlstate: S.PROTOCOL_VIOLATION, about: 'the client answered an authentication request with the wrong message' },
  AUTH_ABANDONED: { sqlstate: S.PROTOCOL_VIOLATION, about: 'the client hung up during the password exchange' },
  AUTH_TIMEOUT: { sqlstate: S.PROTOCOL_VIOLATION, about: 'the password exchange did not finish within client_login_timeout' },
  LOGIN_TIMEOUT: { sqlstate: S.PROTOCOL_VIOLATION, about: 'the login did not finish within client_login_timeout' },
  LOGIN_FAILED: { sqlstate: S.INTERNAL_ERROR, about: 'the login failed for a reason pgmoat did not foresee (see the log)' },
  SCRAM_PROTOCOL: { sqlstate: S.PROTOCOL_VIOLATION, about: 'a SCRAM message from the client does not follow RFC 5802' },
  SCRAM_CHANNEL_BINDING_UNSUPPORTED: { sqlstate: S.PROTOCOL_VIOLATION, about: 'the client asks for SCRAM channel binding, which pgmoat does not offer' },
  REPLICATION_UNSUPPORTED: { sqlstate: S.FEATURE_NOT_SUPPORTED, about: 'a replication connection (pgmoat pools only normal sessions)' },

  // The verdict on the client certificate (one per refusal reason of tls/cert-refusal.ts).
  CLIENT_CERT_REQUIRED: { sqlstate: S.INVALID_AUTHORIZATION_SPECIFICATION, about: 'no client certificate was sent where one is required' },
  CLIENT_CERT_UNKNOWN_CA: { sqlstate: S.INVALID_AUTHORIZATION_SPECIFICATION, about: 'the client certificate was not issued by a CA the gateway trusts' },
  CLIENT_CERT_EXPIRED: { sqlstate: S.INVALID_AUTHORIZATION_SPECIFICATION, about: 'the client certificate has expired (at the handshake, or during a session)' },
  CLIENT_CERT_NOT_YET_VALID: { sqlstate: S.INVALID_AUTHORIZATION_SPECIFICATION, about: 'the client certificate is not valid yet' },
  CLIENT_CERT_REVOKED: { sqlstate: S.INVALID_AUTHORIZATION_SPECIFICATION, about: 'the client certificate is revoked (at the handshake, at login, or during a session)' },
  CLIENT_CERT_NOT_FOR_CLIENT: { sqlstate: S.INVALID_AUTHORIZATION_SPECIFICATION, about: 'the certificate is not meant for client authentication (a CA, keyUsage, extendedKeyUsage)' },
  CLIENT_CERT_NO_IDENTITY: { sqlstate: S.INVALID_AUTHORIZATION_SPECIFICATION, about: 'the client certificate has no subject common name' },
  CLIENT_CERT_INVALID: { sqlstate: S.INVALID_AUTHORIZATION_SPECIFICATION, about: 'the client certificate failed verification for another reason' },

  // Access: rules, identities, passwords, limits.
  ENVIRONMENT_MISMATCH: { sqlstate: S.INVALID_AUTHORIZATION_SPECIFICATION, about: "the certificate's environment is not the database's" },
  NO_RULE: { sqlstate: S.INVALID_AUTHORIZATION_SPECIFICATION, about: 'no access rule matches the connection' },
  RULE_REJECTS: { sqlstate: S.INVALID_AUTHORIZATION_SPECIFICATION, about: 'the matching access rule is a reject rule' },
  CERT_ROLE_MISMATCH: { sqlstate: S.INVALID_AUTHORIZATION_SPECIFICATION, about: 'the certificate identity may not use the role asked for' },
  CERT_SAN_UNMAPPED: { sqlstate: S.INVALID_AUTHORIZATION_SPECIFICATION, about: 'a certificate without CN (SAN identity only) met a rule without an identity map: nothing says which roles it may use' },
  CERT_SAN_ROLE_MISMATCH: { sqlstate: S.INVALID_AUTHORIZATION_SPECIFICATION, about: "the identity map lets none of the SANs of a certificate without CN use the role asked for" },
  BAD_PASSWORD: { sqlstate: S.INVALID_PASSWORD, about: 'the password (or SCRAM proof) is wrong, or the role has none' },
  AUTH_QUERY_FAILED: { sqlstate: S.INVALID_AUTHORIZATION_SPECIFICATION, about: 'auth_query could not look the password up (details in the log only)' },
  UNKNOWN_DATABASE: { sqlstate: S.INVALID_CATALOG_NAME, about: 'the database is not in the configuration (also in config checks and admin commands)' },
  CONNECTION_LIMIT: { sqlstate: S.TOO_MANY_CONNECTIONS, about: 'connections_per_identity or connections_per_address is reached' },
  TOO_MANY_CLIENTS: { sqlstate: S.TOO_MANY_CONNECTIONS, about: 'max_client_conn is reached' },

  // A session and its pool.
  CLIENT_IDLE_TIMEOUT: { sqlstate: S.IDLE_SESSION_TIMEOUT, about: 'client_idle_timeout ended an idle session' },
  IDLE_TRANSACTION_TIMEOUT: { sqlstate: S.IDLE_IN_TRANSACTION_SESSION_TIMEOUT, about: 'idle_transaction_timeout ended a session idle in a transaction' },
  QUERY_TIMEOUT: { sqlstate: S.QUERY_CANCELED, about: 'query_timeout ended a query' },
  QUERY_WAIT_TIMEOUT: { sqlstate: S.QUERY_CANCELED, about: 'no server connection became available within query_wait_timeout (the session stays open)' },
  LONG_TRANSACTION: { sqlstate: S.FEATURE_NOT_SUPPORTED, about: 'a transaction block in statement pooling mode' },
  SERVER_LOST: { sqlstate: S.CONNECTION_FAILURE, about: "the client's server connection closed unexpectedly" },
  SERVER_MESSAGE_TOO_LARGE: { sqlstate: S.PROGRAM_LIMIT_EXCEEDED, about: 'the server sent a message longer than max_packet_size' },
  SERVER_PROTOCOL: { sqlstate: S.PROTOCOL_VIOLATION, about: 'the server sent a message of invalid length' },
  UPSTREAM_UNAVAILABLE: { sqlstate: S.SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION, about: 'no server connection could be opened within client_login_timeout' },
  KILLED: { sqlstate: S.ADMIN_SHUTDOWN, about: 'an admin KILL ended the session' },
  SHUTDOWN: { sqlstate: S.ADMIN_SHUTDOWN, about: 'the gateway is shutting down' },

  // The gateway's own connections to PostgreSQL.
  UPSTREAM_CONNECT: { sqlstate: S.SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION, about: 'the TCP connection to the upstream failed' },
  UPSTREAM_TLS: { sqlstate: S.SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION, about: 'TLS to the upstream failed (a certificate that does not verify, a handshake that fails)' },
  UPSTREAM_NO_TLS: { sqlstate: S.SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION, about: "the upstream answered the SSLRequest with 'N' where the database's tls.mode requires TLS" },
  UPSTREAM_TIMEOUT: { sqlstate: S.SQLCLIENT_UNABLE_TO_ESTABLISH_SQLCONNECTION, about: 'the upstream did not complete the login within server_connect_timeout' },
  UPSTREAM_LOGIN: { sqlstate: S.CONNECTION_FAILURE, about: 'the upstream connection failed or closed during SSL negotiation or login' },
  UPSTREAM_PROTOCOL: { sqlstate: S.PROTOCOL_VIOLATION, about: 'the upstream answered the login with something the protocol does not allow' },
  UPSTREAM_NO_PASSWORD: { sqlstate: S.INVALID_PASSWORD, about: 'the upstream asks for a password pgmoat does not have for the role' },
  UPSTREAM_AUTH_UNSUPPORTED: { sqlstate: S.FEATURE_NOT_SUPPORTED, about: 'the upstream asks for an authentication method pgmoat cannot answer' },
  UPSTREAM_AUTH: { sqlstate: 'relayed', about: "the upstream's authentication exchange failed (the SQLSTATE of the step that failed)" },
  UPSTREAM_LOGIN_REFUSED: { sqlstate: 'relayed', about: "the upstream refused the login; its ErrorResponse is passed on as it is" },
  SASL_MECHANISM_UNSUPPORTED: { sqlstate: S.FEATURE_NOT_SUPPORTED, about: 'the upstream offers no SASL mechanism pgmoat speaks' },
  SCRAM_SERVER_ERROR: { sqlstate: S.INVALID_PASSWORD, about: "the upstream's SCRAM answer does not verify, or reports an error" },

  // The admin console and reloads.
  ADMIN_SIMPLE_ONLY: { sqlstate: S.FEATURE_NOT_SUPPORTED, about: 'the admin console takes only simple queries' },
  ADMIN_SYNTAX: { sqlstate: S.SYNTAX_ERROR, about: 'an admin command pgmoat does not know or cannot parse' },
  ADMIN_PROTOCOL: { sqlstate: S.PROTOCOL_VIOLATION, about: 'a message the admin console does not accept' },
  ADMIN_INTERNAL: { sqlstate: S.INTERNAL_ERROR, about: 'an admin command failed unexpectedly (see the log)' },
  ADMIN_NOT_ALLOWED: { sqlstate: S.INVALID_AUTHORIZATION_SPECIFICATION, about: 'the certificate identity is not in admin.identities' },
  DASHBOARD_BAD_REQUEST: { sqlstate: null, about: 'a dashboard request (admin.http.dashboard) is malformed: a query value, a JSON body, a missing field' },
  DASHBOARD_NO_CA: { sqlstate: null, about: 'a dashboard revoke found no CA directory beside tls.ca (or renewal.ca_dir) to revoke with' },
  DASHBOARD_TOKEN_WEAK: { sqlstate: null, about: 'admin.http.dashboard.token_file is empty or holds fewer than 16 characters' },
  DASHBOARD_WORKERS: { sqlstate: null, about: 'under serve --workers, a dashboard question or action got no answer (or a failure) from some worker' },
  ADMIN_USER_MISMATCH: { sqlstate: S.INVALID_AUTHORIZATION_SPECIFICATION, about: "the admin console's user must be the certificate's CN" },
  TOO_MANY_ADMIN_SESSIONS: { sqlstate: S.TOO_MANY_CONNECTIONS, about: 'admin.max_sessions is reached' },
  RELOAD_REFUSED: { sqlstate: S.CONFIG_FILE_ERROR, about: 'RELOAD or SIGHUP found a configuration that cannot apply; the running one stays' },
  ADMIN_HTTP_RELOAD: { sqlstate: S.CONFIG_FILE_ERROR, about: 'the configuration applied but the admin HTTP listener could not follow it' },
  PEER_RELOAD_FAILED: { sqlstate: S.CONFIG_FILE_ERROR, about: 'RELOAD applied on this worker but not on every other worker' },
  PEER_COMMAND_FAILED: { sqlstate: S.INTERNAL_ERROR, about: 'an admin pool command (PAUSE, RESUME, ...) applied on this worker failed on another' },
  ADMIN_SET_UNKNOWN: { sqlstate: S.UNDEFINED_OBJECT, about: 'the admin SET names a key that is not a setting' },
  ADMIN_SET_NOT_CHANGEABLE: { sqlstate: S.CANT_CHANGE_RUNTIME_PARAM, about: 'the admin SET names a setting that applies only from the file (RELOAD or a restart); SHOW CONFIG says which are changeable' },
  ADMIN_SET_INVALID: { sqlstate: S.INVALID_PARAMETER_VALUE, about: "the admin SET's value does not validate (the same check as in pgmoat.yaml)" },
  DATABASE_DISABLED: { sqlstate: S.OBJECT_NOT_IN_PREREQUISITE_STATE, about: 'a login to a database an admin DISABLE closed to new connections' },
  GATEWAY_SUSPENDED: { sqlstate: S.CANNOT_CONNECT_NOW, about: 'a login waited for RESUME after an admin SUSPEND longer than client_login_timeout' },
  WAIT_CLOSE_TIMEOUT: { sqlstate: S.QUERY_CANCELED, about: 'the admin WAIT_CLOSE gave up: server connections due to close were still open at its deadline' },

  // Configuration and access files (at start, at `pgmoat check`, at reload).
  CONFIG_INVALID: { sqlstate: null, about: 'pgmoat.yaml (or a file it names) does not validate' },
  CONFIG_UNREADABLE: { sqlstate: null, about: 'pgmoat.yaml cannot be read' },
  CLUSTER_ENV: { sqlstate: null, about: 'a cluster worker started without the secrets its primary passes it' },
  PASSWORD_MISSING: { sqlstate: null, about: 'a password setting names a file or variable that is not there' },
  RULE_INVALID: { sqlstate: null, about: 'an access rule does not validate' },
  HBA_INVALID: { sqlstate: null, about: 'a pg_hba.conf-style file does not parse' },
  HBA_NO_ADDRESS: { sqlstate: null, about: 'a TCP connection matched against host rules without its peer address' },
  HBA_GROUP_UNRESOLVED: { sqlstate: null, about: 'a +group in an access rule that no group list defines' },
  IDENT_INVALID: { sqlstate: null, about: 'a pg_ident.conf-style file does not parse' },
  IDENT_GROUP_UNRESOLVED: { sqlstate: null, about: 'a +group in an identity map that no group list defines' },
  CIDR_INVALID: { sqlstate: null, about: 'an address or CIDR that does not parse' },
  USERLIST_INVALID: { sqlstate: null, about: 'a userlist.txt line that does not parse' },
  SCRAM_SECRET_INVALID: { sqlstate: null, about: 'a stored SCRAM secret that does not parse' },
  MD5_HASH_INVALID: { sqlstate: null, about: 'a stored md5 password hash that does not parse' },
  MD5_SALT_INVALID: { sqlstate: null, about: 'an md5 salt of the wrong length' },
  CRL_INVALID: { sqlstate: null, about: 'a CRL that does not parse' },
  CRL_UNTRUSTED: { sqlstate: null, about: 'a CRL not signed by a trusted CA' },
  CRL_ROLLBACK: { sqlstate: null, about: 'a CRL older than the one in force (lower CRL number or thisUpdate)' },
  CRL_STATE_INVALID: { sqlstate: null, about: 'the CRL state file (the highest CRL numbers seen) does not parse' },
  TLS_CERT_EXPIRED: { sqlstate: null, about: 'a TLS certificate written while the gateway runs has already expired: it is not loaded' },
  TLS_CERT_NOT_YET_VALID: { sqlstate: null, about: 'a TLS certificate read while the gateway runs is not valid yet (notBefore ahead of the clock): it is loaded once valid' },
  TLS_CERT_ROLLBACK: { sqlstate: null, about: 'a TLS certificate written while the gateway runs is older (earlier notBefore) than the one in force: it is not loaded' },
  TLS_RELOAD_FAILED: { sqlstate: null, about: 'new TLS files checked out but could not be put in force; the running set stays' },
  PGBOUNCER_INI_INVALID: { sqlstate: null, about: 'pgbouncer.ini (or a file it includes) does not parse' },
  PGBOUNCER_INI_UNREADABLE: { sqlstate: null, about: 'pgbouncer.ini cannot be read' },
  CONNSTRING_INVALID: { sqlstate: null, about: 'a libpq connection string that does not parse' },
  IMPORT_INCOMPLETE: { sqlstate: null, about: 'import-pgbouncer wrote a configuration that will not load until listed problems are fixed' },

  // The CA, certificates and keys.
  NOT_A_CA: { sqlstate: null, about: 'the directory is not a pgmoat CA' },
  NOT_A_DIRECTORY: { sqlstate: null, about: 'a path that must be a directory is not one' },
  CA_EXISTS: { sqlstate: null, about: 'pgmoat init into a directory that already holds a CA' },
  CA_INCOMPLETE: { sqlstate: null, about: 'a directory with a CA key but no CA certificate' },
  CA_CERT_INVALID: { sqlstate: null, about: "the CA's certificate does not parse or is not a CA" },
  CA_KEY_MISMATCH: { sqlstate: null, about: "the CA's key does not belong to its certificate" },
  ADOPT_INPUT_INVALID: { sqlstate: null, about: 'pgmoat ca adopt: a given file is not the PEM certificate or CRL it should be' },
  ADOPT_NOT_A_CA: { sqlstate: null, about: 'pgmoat ca adopt: the certificate cannot act as a CA (no CA:TRUE, no keyCertSign/cRLSign, or expired)' },
  ADOPT_ROOT_REQUIRED: { sqlstate: null, about: 'pgmoat ca adopt: the CA is not self-signed and no --root was given' },
  ADOPT_ROOT_INVALID: { sqlstate: null, about: 'pgmoat ca adopt: --root holds no self-signed root that signed the CA' },
  ADOPT_FOREIGN_CERTIFICATE: { sqlstate: null, about: 'pgmoat ca adopt: an --issued file or the --crl was not signed by the CA' },
  ROOT_KEY_MISSING: { sqlstate: null, about: 'a command that signs with the root (rotate or revoke an intermediate, the root CRL) found no root key: bring it back from offline and pass --root-key' },
  ROOT_KEY_MISMATCH: { sqlstate: null, about: 'the key given as --root-key is not the key of ca.crt' },
  NOT_TWO_LEVEL: { sqlstate: null, about: 'an intermediate command on a one-level CA (made without pgmoat init --intermediate)' },
  INTERMEDIATE_UNKNOWN: { sqlstate: null, about: 'no intermediate of the CA has that serial' },
  INTERMEDIATE_CURRENT: { sqlstate: null, about: 'revoking the intermediate that signs now: rotate first, then revoke the old one' },
  INTERMEDIATE_ALREADY_REVOKED: { sqlstate: null, about: 'the intermediate is already listed in the root CRL' },
  CA_LOCKED: { sqlstate: null, about: 'another process holds the CA lock' },
  CA_LOCK_LOST: { sqlstate: null, about: 'the CA lock was taken away during a write' },
  INVENTORY_CORRUPT: { sqlstate: null, about: "the CA's inventory does not parse" },
  INVENTORY_VERSION: { sqlstate: null, about: "the CA's inventory was written by a newer pgmoat" },
  STORE_UNREACHABLE: { sqlstate: null, about: "the CA's PostgreSQL store cannot be reached or refuses the login (connect timeout, refused, authentication)" },
  STORE_FAILED: { sqlstate: null, about: "a statement against the CA's PostgreSQL store failed; nothing was changed" },
  STORE_SCHEMA_NEWER: { sqlstate: null, about: "the CA's PostgreSQL store was made by a newer pgmoat (store_meta.schema_version)" },
  STORE_OTHER_CA: { sqlstate: null, about: "the PostgreSQL store holds another CA's inventory (ca_state.ca_fingerprint256 is not this root's)" },
  STORE_NOT_EMPTY: { sqlstate: null, about: 'pgmoat ca migrate: the store already holds rows that differ from this directory\'s inventory' },
  STORE_POINTER_INVALID: { sqlstate: null, about: 'DIR/store.json (where the CA directory records its store) does not parse' },
  STORE_URL_INVALID: { sqlstate: null, about: 'a store URL that is not postgres:// or postgresql://', usage: true },
  ALREADY_MIGRATED: { sqlstate: null, about: 'pgmoat ca migrate: the CA directory already uses a PostgreSQL store' },
  IDENTITY_EXISTS: { sqlstate: null, about: 'a certificate for the identity is already in force' },
  IDENTITY_REVOKED: { sqlstate: null, about: 'every certificate of the identity is revoked: renew cannot start from one' },
  UNKNOWN_IDENTITY: { sqlstate: null, about: 'no certificate of the CA has this identity or serial' },
  AMBIGUOUS_IDENTITY: { sqlstate: null, about: 'several certificates match; name the serial' },
  ALREADY_REVOKED: { sqlstate: null, about: 'the certificate is already revoked' },
  OUT_IS_CA_DIR: { sqlstate: null, about: 'the output directory is the CA directory' },
  CERT_INVALID: { sqlstate: null, about: 'a certificate file that does not parse' },
  CERT_NOT_FROM_CA: { sqlstate: null, about: 'a certificate this CA did not issue' },
  CSR_MALFORMED: { sqlstate: null, about: 'a certificate signing request that does not parse' },
  CSR_BAD_SIGNATURE: { sqlstate: null, about: 'a certificate signing request whose signature does not verify' },
  PEM_INVALID: { sqlstate: null, about: 'a file that is not the PEM it should be' },
  KEY_INVALID: { sqlstate: null, about: 'a private key that does not parse' },
  KEY_MISMATCH: { sqlstate: null, about: 'a private key that does not belong to the certificate' },
  KEY_UNSUPPORTED: { sqlstate: null, about: 'a key type pgmoat does not issue for' },
  KEY_PERMISSIONS: { sqlstate: null, about: 'a private key file that group or others can read' },
  KEY_PASSPHRASE_REQUIRED: { sqlstate: null, about: 'an encrypted key and no passphrase' },
  KEY_PASSPHRASE_WRONG: { sqlstate: null, about: 'the passphrase does not open the key' },
  EMPTY_PASSPHRASE: { sqlstate: null, about: 'an empty passphrase' },
  INVALID_CA_NAME: { sqlstate: null, about: 'a --ca-name that is not 1-64 printable ASCII characters', usage: true },
  INVALID_DAYS: { sqlstate: null, about: 'a validity in days out of range', usage: true },
  INVALID_VALIDITY: { sqlstate: null, about: 'a validity whose notAfter is not after its notBefore' },
  INVALID_HOST: { sqlstate: null, about: 'a host name or address for a server certificate that is not one', usage: true },
  INVALID_KEY_TYPE: { sqlstate: null, about: 'a --key-type pgmoat does not know', usage: true },
  INVALID_REASON: { sqlstate: null, about: 'a revocation reason RFC 5280 does not name', usage: true },
  INVALID_NAME: { sqlstate: null, about: "an application name that is not 1-63 letters, digits, '.', '_' or '-'", usage: true },
  INVALID_ENVIRONMENT: { sqlstate: null, about: "an environment name that is not 1-63 letters, digits, '.', '_' or '-'", usage: true },
  INVALID_LIFETIME: { sqlstate: null, about: 'a --lifetime that is not 5m-36500d (90m, 24h, 30d), or one that would outlive the issuing CA', usage: true },
  INVALID_SAN: { sqlstate: null, about: 'a --san that is not DNS:<host name> or URI:<uri> (SPIFFE IDs checked), or too many', usage: true },
  CA_DEFAULTS_INVALID: { sqlstate: null, about: "the CA directory's defaults.json cannot be read" },

  // The renewal service (POST /v1/renew and its client): the JSON refusal's code; the HTTP status is renewal/http-status.ts's.
  RENEWAL_CERT_REQUIRED: { sqlstate: null, about: 'a renewal request without a client certificate (HTTP 401)' },
  RENEWAL_UNKNOWN_CA: { sqlstate: null, about: 'a renewal request whose client certificate this CA did not sign (HTTP 401)' },
  RENEWAL_CERT_UNKNOWN: { sqlstate: null, about: "a renewal request whose certificate is not in the CA's inventory (HTTP 403)" },
  RENEWAL_REVOKED: { sqlstate: null, about: 'a renewal request whose certificate is revoked (HTTP 403)' },
  RENEWAL_EXPIRED: { sqlstate: null, about: 'a renewal request whose certificate has expired, beyond renewal.expired_grace (HTTP 403)' },
  RENEWAL_NOT_YET_VALID: { sqlstate: null, about: 'a renewal request whose certificate is not valid yet (HTTP 403)' },
  RENEWAL_NOT_CLIENT: { sqlstate: null, about: 'a renewal request made with a certificate that is not a client certificate (HTTP 403)' },
  RENEWAL_IDENTITY_CHANGED: { sqlstate: null, about: 'a renewal CSR whose subject or SANs differ from the current certificate (HTTP 400)' },
  RENEWAL_CSR_PURPOSE: { sqlstate: null, about: 'a renewal CSR asking for CA:TRUE, certificate signing or serverAuth (HTTP 400)' },
  RENEWAL_CSR_MALFORMED: { sqlstate: null, about: 'a renewal CSR that does not parse, has a bad signature or an unsupported key (HTTP 400)' },
  RENEWAL_KEY_REUSED: { sqlstate: null, about: 'a renewal CSR for the key of the current certificate: a renewal must rotate the key (HTTP 400)' },
  RENEWAL_RATE_LIMITED: { sqlstate: null, about: 'renewal.rate_limit is reached for the identity (HTTP 429 with Retry-After)' },
  RENEWAL_BAD_REQUEST: { sqlstate: null, about: 'a renewal service request with the wrong path, method, content type or size (HTTP 404/405/413/415)' },
  RENEWAL_UNAVAILABLE: { sqlstate: null, about: 'the renewal service could not issue (CA lock, disk); retry later (HTTP 503)' },
  RENEWAL_REFUSED: { sqlstate: null, about: 'pgmoat renew --remote: the renewal service refused (its code and message follow)' },
  RENEWAL_UNREACHABLE: { sqlstate: null, about: 'pgmoat renew --remote: the renewal service cannot be reached or gave no usable answer' },
  SERVER_CERT_RENEWAL_FAILED: { sqlstate: null, about: 'renewal.server_certificate: the gateway could not renew its own certificate for an unexpected reason; it retries with backoff' },
  RENEWAL_RELOAD: { sqlstate: null, about: 'a reload could not apply a changed renewal: setting; the running renewal service stays as it was' },

  // Commands and files.
  USAGE: { sqlstate: null, about: 'a command line pgmoat cannot run (missing or conflicting options)', usage: true },
  FILE_UNREADABLE: { sqlstate: null, about: 'a file cannot be read' },
  FILE_EXISTS: { sqlstate: null, about: 'a file would be overwritten' },
  WRITE_FAILED: { sqlstate: null, about: 'a file cannot be written' },
  LISTEN_FAILED: { sqlstate: null, about: 'a listener (gateway, admin HTTP, renewal service, quick start) cannot open its address: no privilege for the port, an address not on this machine' },
  PORT_BUSY: { sqlstate: null, about: 'a listener (gateway, admin HTTP, renewal service, quick start) finds its port already in use' },
  INVALID_UPSTREAM_URL: { sqlstate: null, about: 'an upstream URL that does not parse', usage: true },
  EMBEDDED_PG_FAILED: { sqlstate: null, about: "the quick start's embedded PostgreSQL did not start" },
  DOCTOR_FAILED: { sqlstate: null, about: 'pgmoat doctor found a problem' },
} as const satisfies Record<string, ErrorCodeEntry>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The SQLSTATE a client sees for `code`; undefined for codes that never reach one, or relay another's. */
export function catalogueSqlstate(code: ErrorCode): string | undefined {
  const s: ErrorCodeEntry['sqlstate'] = ERROR_CODES[code].sqlstate;
  return s === null || s === 'relayed' ? undefined : s;
}
