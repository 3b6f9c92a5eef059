/**
 * The one fix for each kind of failure, filled in with what the doctor knows (the identity's
 * name and environment, where its files are, the host asked for) and placeholders in capitals
 * for what it cannot know (CA_DIR, NEW_DIR). Every fix the doctor prints comes from here, and
 * every `pgmoat ...` command in them is parsed by the real command line in a test
 * (fixes.test.ts), so that a fix never names an option or a command that does not exist.
 */
import { dirname } from 'node:path';

export interface FixContext {
  /** The client certificate's CN (the identity name), when a certificate was read. */
  name: string | undefined;
  environment: string | undefined;
  /** Files given, for commands that rewrite them. */
  certPath: string | undefined;
  keyPath: string | undefined;
}

/** What some fixes need besides the client certificate. */
export interface FixFacts {
  /** The host name the client connects to. */
  host?: string;
  /** The names the server's certificate is valid for. */
  hostNames?: readonly string[];
  /** The database asked for: on a gateway, the name of its `databases` entry. */
  database?: string;
  /** The environment the database requires, when the gateway said which. */
  requiredEnvironment?: string;
  /** The role asked for. */
  user?: string;
}

function name(ctx: FixContext): string {
  return ctx.name ?? 'NAME';
}

function who(ctx: FixContext, environment = ctx.environment): string {
  return `${name(ctx)} --env ${environment ?? 'ENV'}`;
}

function outDir(ctx: FixContext): string {
  return ctx.certPath ? dirname(ctx.certPath) : 'DIR';
}

/** A host for a command line: quoted only when the shell would split or expand it. */
function shellWord(text: string): string {
  return /^[A-Za-z0-9._:/@%+=-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

function db(f: FixFacts): string {
  return f.database ?? 'DATABASE';
}

const RELOAD = "then reload the gateway (SIGHUP, or RELOAD on its admin console)";

export const fixes = {
  // ---- the client certificate ----
  /** `pgmoat renew` with the CA directory replaces NAME.crt and NAME.key in place. */
  renew: (ctx: FixContext): string => `renew it: pgmoat renew ${who(ctx)} --dir CA_DIR --out ${outDir(ctx)}`,
  /**
   * A revoked certificate cannot be renewed: `pgmoat renew` refuses an identity whose certificates
   * are all revoked, and `pgmoat issue` does not overwrite the files beside the revoked one.
   */
  reissueRevoked: (ctx: FixContext): string =>
    `a revoked certificate cannot be renewed; issue a new one for the same identity into a new directory: pgmoat issue ${who(ctx)} --dir CA_DIR --out NEW_DIR, then point the client at NEW_DIR/${name(ctx)}.crt and NEW_DIR/${name(ctx)}.key`,
  issueFromGatewayCa: (ctx: FixContext): string =>
    `use a certificate issued by the CA the gateway trusts: pgmoat issue ${who(ctx)} --dir CA_DIR --out NEW_DIR (CA_DIR: the gateway's CA directory)`,
  issueClientCert: (ctx: FixContext): string => `issue a client certificate (clientAuth): pgmoat issue ${who(ctx)} --dir CA_DIR --out NEW_DIR`,
  /** No access rule can let a certificate into a database of another environment. */
  issueForEnvironment: (ctx: FixContext, f: FixFacts = {}): string => {
    const env = f.requiredEnvironment ?? 'ENV_OF_DATABASE';
    return `connect with a certificate issued for environment "${env}", the environment of database "${db(f)}": no access rule can override the environment check (whether ${name(ctx)} has one: pgmoat list --dir CA_DIR); to issue one: pgmoat issue ${who(ctx, env)} --dir CA_DIR --out NEW_DIR`;
  },
  chmodKey: (ctx: FixContext): string => `chmod 600 ${ctx.keyPath ? shellWord(ctx.keyPath) : 'KEY'}`,
  passCertAndKey: (ctx: FixContext): string =>
    `pass the client certificate and key: --cert ${name(ctx)}.crt --key ${name(ctx)}.key (or set PGCLIENT_CERT_B64 and PGCLIENT_KEY_B64 from them: pgmoat export --cert ${name(ctx)}.crt --key ${name(ctx)}.key --format env)`,
  rereadFiles: (ctx: FixContext): string =>
    `point --cert and --key at the PEM files the issue command wrote (NAME.crt, NAME.key), or write the variables again from them: pgmoat export --cert ${ctx.certPath ? shellWord(ctx.certPath) : 'NAME.crt'} --key ${ctx.keyPath ? shellWord(ctx.keyPath) : 'NAME.key'} --format env`,
  matchingKey: (ctx: FixContext): string =>
    `use the key written together with this certificate (the NAME.key beside NAME.crt), or get a fresh pair: pgmoat renew ${who(ctx)} --dir CA_DIR --out ${outDir(ctx)}`,
  passphrase: (): string => 'give the passphrase the key was encrypted with: --key-passphrase-file FILE (or PGCLIENT_KEY_PASSPHRASE)',
  checkClock: (): string => "check this machine's clock (and the server's): timedatectl status",

  // ---- the server's certificate ----
  useGatewayCa: (): string => "use the CA that issued the gateway's certificate as --ca (ca.crt from the gateway's CA directory, written beside every issued client certificate)",
  renewServer: (): string => `renew the gateway's certificate: pgmoat issue-server --dir CA_DIR, ${RELOAD}`,
  /** Either connect by a name the certificate has, or give the gateway a certificate that has this one. */
  hostMismatch: (_ctx: FixContext, f: FixFacts = {}): string => {
    const host = f.host ?? 'HOST';
    const names = f.hostNames ?? [];
    const hosts = [host, ...names.filter((n) => n !== host)].map((h) => `--host ${shellWord(h)}`).join(' ');
    const reissue = `give the gateway a certificate that names "${host}": pgmoat issue-server --dir CA_DIR ${hosts}, ${RELOAD}`;
    return names.length > 0 ? `connect with host=${names[0]} (the certificate is valid for ${names.join(', ')}), or ${reissue}` : reissue;
  },

  // ---- the gateway's upstream (step 8, or a gateway's FATAL at login) ----
  upstreamDown: (_ctx: FixContext, f: FixFacts = {}): string =>
    `start the PostgreSQL behind database "${db(f)}", or correct databases.${db(f)}.host and port in the gateway's configuration and ${RELOAD.replace(/^then /, '')}; check it from the gateway's machine with pg_isready -h HOST -p PORT`,
  upstreamSlow: (_ctx: FixContext, f: FixFacts = {}): string =>
    `check that the PostgreSQL behind database "${db(f)}" is up and that the gateway's machine can reach it (firewall, security group); one that is busy starting answers late (databases.${db(f)}.server_connect_timeout)`,
  upstreamPassword: (_ctx: FixContext, f: FixFacts = {}): string =>
    `put the upstream role's password in databases.${db(f)}.password_file (or password_env), as PostgreSQL has it (ALTER ROLE ... PASSWORD), ${RELOAD}`,
  upstreamNoPassword: (_ctx: FixContext, f: FixFacts = {}): string =>
    `set databases.${db(f)}.password_file (or password_env) to the upstream role's password, ${RELOAD}`,
  upstreamAuthMethod: (): string =>
    "give the upstream role scram-sha-256, md5, password, trust or cert in the upstream's pg_hba.conf, then reload PostgreSQL",
  upstreamNoDatabase: (_ctx: FixContext, f: FixFacts = {}): string =>
    `create the database on the upstream (CREATE DATABASE), or point databases.${db(f)}.dbname at one that exists, ${RELOAD}`,
  upstreamHba: (_ctx: FixContext, f: FixFacts = {}): string =>
    `allow the gateway's connection in the upstream's pg_hba.conf (its address, the role and the database of databases.${db(f)}), then reload PostgreSQL`,
  upstreamNoTls: (_ctx: FixContext, f: FixFacts = {}): string =>
    `the upstream PostgreSQL offers no TLS: turn it on there (ssl = on in postgresql.conf), or, if plain TCP to it is acceptable, set databases.${db(f)}.tls.mode to prefer or disable, ${RELOAD}`,
  upstreamTlsRequired: (_ctx: FixContext, f: FixFacts = {}): string =>
    `the upstream requires TLS: set databases.${db(f)}.tls.mode to verify-full (with tls.ca) or require, ${RELOAD}`,
  upstreamUntrusted: (_ctx: FixContext, f: FixFacts = {}): string =>
    `give databases.${db(f)}.tls.ca the CA that issued the upstream's server certificate, ${RELOAD}`,
  upstreamHostName: (_ctx: FixContext, f: FixFacts = {}): string =>
    `set databases.${db(f)}.tls.servername to a name the upstream's certificate carries (or re-issue that certificate for databases.${db(f)}.host), ${RELOAD}`,
  upstreamCertExpired: (): string => "renew the upstream PostgreSQL's server certificate (ssl_cert_file), then reload PostgreSQL",
  upstreamTls: (_ctx: FixContext, f: FixFacts = {}): string =>
    `check databases.${db(f)}.tls (mode, ca, servername, cert and key) against the upstream's TLS settings, ${RELOAD}`,
  upstreamOther: (_ctx: FixContext, f: FixFacts = {}): string =>
    `read the gateway's log (event server_connect_failed, pool ${db(f)}): the gateway cannot log in to its upstream; check databases.${db(f)} in its configuration`,
};

export type FixName = keyof typeof fixes;

/**
 * The `pgmoat ...` commands in a fix text, as argument lists (without "pgmoat"). A command runs
 * to the end of the text, or to a word that ends it: one ending in ',', ';' or ')', one starting
 * with '(', or "then"/"or"/"and". Words in single quotes (shellWord) are one argument.
 */
export function commandsIn(text: string): string[][] {
  const words: string[] = [];
  for (const m of text.matchAll(/'((?:[^']|'\\'')*)'([,;]?)|(\S+)/g)) {
    words.push(m[1] !== undefined ? `\u0000${m[1].replace(/'\\''/g, "'")}${m[2] ?? ''}` : m[3]!);
  }
  const commands: string[][] = [];
  for (let i = 0; i < words.length; i++) {
    if (words[i] !== 'pgmoat' && words[i] !== '(pgmoat') continue;
    const argv: string[] = [];
    for (let j = i + 1; j < words.length; j++) {
      let w = words[j]!;
      const quoted = w.startsWith('\u0000');
      if (quoted) w = w.slice(1);
      if (!quoted && (w.startsWith('(') || w === 'then' || w === 'or' || w === 'and')) break;
      const ends = /[,;)]$/.test(w);
      argv.push(ends ? w.slice(0, -1) : w);
      i = j;
      if (ends) break;
    }
    if (argv.length > 0) commands.push(argv);
  }
  return commands;
}
