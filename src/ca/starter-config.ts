/** The pgmoat.yaml that `pgmoat init` writes next to the CA: a working starting point, explained. */

export function starterConfig(opts: { host: string; ca?: string; intermediate?: boolean }): string {
  const ca = opts.ca ?? 'ca.crt';
  const caComment = opts.intermediate
    ? `  # The root CA and the intermediate that issues client certificates and signs crl.pem
  # (ca.crt followed by intermediate.crt): the CRL is verified against the intermediate, and
  # chains end at the root. Clients send the intermediate with their certificate.`
    : '  # The CA whose client certificates are accepted.';
  return `# pgmoat gateway configuration, written by \`pgmoat init\`.
# Paths are relative to this file.

# Where the gateway accepts client connections.
listen: { host: ${opts.host}, port: 6432 }

tls:
  # verify-full: every client must present a certificate issued by ca.crt, not revoked in crl.pem.
  mode: verify-full
  # The gateway's own certificate and key (re-issue with: pgmoat issue-server --dir <this dir>).
  cert: server.crt
  key: server.key
${caComment}
  ca: ${ca}
  # Revoked client certificates; pgmoat revoke rewrites it, the gateway reloads it on change.
  # It expires: re-sign it from cron with: pgmoat crl --dir <this dir>
  crl: crl.pem

# The PostgreSQL databases behind the gateway, by the name clients ask for.
databases:
  app:
    host: 127.0.0.1
    port: 5432
    dbname: app
    # The role pgmoat logs in as upstream (default: the role the client asked for).
    # user: app_owner
    # Password for that role, read from a file (mode 0600). Uncomment once the file exists:
    # pgmoat refuses to start when a configured password_file is missing.
    # password_file: app_owner.password
    # Only client certificates issued for this environment (pgmoat issue --env) may use it.
    environment: production
    # Server connections kept per (database, role).
    pool_size: 20
    # TLS from pgmoat to PostgreSQL (disable, prefer, require, verify-full).
    tls: { mode: prefer }
`;
}
