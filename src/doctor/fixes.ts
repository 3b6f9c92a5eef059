/**
 * The one fix for each kind of failure, filled in with what the doctor knows (the identity's
 * name and environment, where its files are) and placeholders for what it cannot know.
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

function who(ctx: FixContext): string {
  return `${ctx.name ?? 'NAME'} --env ${ctx.environment ?? 'ENV'}`;
}

function outDir(ctx: FixContext): string {
  return ctx.certPath ? dirname(ctx.certPath) : 'DIR';
}

export const fixes = {
  renew: (ctx: FixContext): string => `renew it: pgmoat renew ${who(ctx)} --dir CA_DIR --out ${outDir(ctx)}`,
  issueNew: (ctx: FixContext): string => `issue a new one: pgmoat issue ${who(ctx)} --dir CA_DIR --out ${outDir(ctx)}`,
  issueFromGatewayCa: (ctx: FixContext): string =>
    `use a certificate issued by the CA the gateway trusts: pgmoat issue ${who(ctx)} --dir CA_DIR --out ${outDir(ctx)} (CA_DIR: the gateway's CA directory)`,
  issueClientCert: (ctx: FixContext): string => `issue a client certificate (clientAuth): pgmoat issue ${who(ctx)} --dir CA_DIR --out ${outDir(ctx)}`,
  chmodKey: (path: string): string => `chmod 600 ${path}`,
  passCertAndKey: (): string => 'pass the client certificate and key: --cert NAME.crt --key NAME.key (or set PGCLIENT_CERT_B64 and PGCLIENT_KEY_B64: pgmoat export NAME --env ENV --dir CA_DIR --format env)',
  matchingKey: (ctx: FixContext): string =>
    `use the key written together with this certificate (the NAME.key beside NAME.crt), or get a fresh pair: pgmoat renew ${who(ctx)} --dir CA_DIR --out ${outDir(ctx)}`,
  passphrase: (): string => 'give the passphrase the key was encrypted with: --key-passphrase-file FILE (or PGCLIENT_KEY_PASSPHRASE)',
  checkClock: (): string => "check this machine's clock (and the server's): timedatectl status",
  useGatewayCa: (): string => "use the CA that issued the gateway's certificate as --ca (ca.crt from the gateway's CA directory, written beside every issued client certificate)",
  renewServer: (): string => "renew the gateway's certificate: pgmoat issue-server --dir CA_DIR, then reload the gateway",
};
