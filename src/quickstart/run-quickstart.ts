/**
 * `pgmoat quickstart`: a CA, a client identity, a config and an upstream (embedded PGlite or the
 * PostgreSQL given with --upstream) in one directory, and the gateway running in front of it.
 * Prints through `say` (the CLI decides where that goes); never calls console.
 */
import { existsSync, mkdirSync, readFileSync, unlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { writeFileAtomic } from '../util/atomic-file.js';
import { loadConfig } from '../config/load.js';
import { Gateway } from '../gateway/gateway.js';
import { buildRuntimeConfig } from '../runtime/runtime-config.js';
import { listenFailure } from '../util/listen-error.js';
import { quickstartConfig, QUICKSTART_DATABASE, type QuickstartUpstream } from './config-file.js';
import type { EmbeddedPostgres } from './embedded-postgres.js';
import { planDataDir, type DataDirPlan } from './pgdata-template.js';
import { DEMO_ENVIRONMENT, DEMO_IDENTITY, ensureIdentities } from './identities.js';
import { nodePostgresSnippet, psqlCommand, type ConnectTarget } from './instructions.js';
import { probePlain, probeTlsWithoutCertificate } from './refusal-probe.js';
import type { UpstreamUrl } from './upstream-url.js';

export const DEFAULT_QUICKSTART_DIR = 'pgmoat-quickstart';
export const DEFAULT_QUICKSTART_PORT = 6432;
const HOST = '127.0.0.1';
const PASSWORD_FILE = 'upstream.password';

export interface QuickstartOptions {
  dir: string;
  port: number;
  upstream: UpstreamUrl | undefined;
  logger: Logger;
  say: (text: string) => void;
}

export interface RunningQuickstart {
  port: number;
  target: ConnectTarget;
  /** Stops the gateway, then the embedded PostgreSQL. */
  stop(): Promise<void>;
}

/** Fails fast, before PGlite's first start (which takes a while), when the port is taken. */
function checkPortFree(port: number): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const srv = createServer();
    srv.once('error', (err: NodeJS.ErrnoException) => reject(listenFailure(err, 'the quick start', HOST, port, '--port')));
    srv.listen({ host: HOST, port, exclusive: true }, () => srv.close(() => resolvePromise()));
  });
}

function upstreamFromUrl(dir: string, url: UpstreamUrl): QuickstartUpstream {
  const passwordPath = join(dir, PASSWORD_FILE);
  if (url.password !== undefined) writeFileAtomic(passwordPath, `${url.password}\n`, 0o600);
  else if (existsSync(passwordPath)) unlinkSync(passwordPath);
  return {
    host: url.host,
    port: url.port,
    user: url.user,
    dbname: url.dbname,
    ...(url.password !== undefined ? { passwordFile: PASSWORD_FILE } : {}),
    tlsMode: url.tlsMode,
    poolSize: 5,
    embedded: false,
  };
}

function upstreamFromEmbedded(pg: EmbeddedPostgres): QuickstartUpstream {
  // PGlite ignores the startup packet's user and database: it is always postgres/postgres.
  return { host: pg.host, port: pg.port, user: pg.user, dbname: 'postgres', tlsMode: 'disable', poolSize: 1, embedded: true };
}

/** What the person watching should expect from the embedded PostgreSQL's start. */
export function expectation(plan: DataDirPlan): string {
  switch (plan.kind) {
    case 'reuse':
      return '(usually under 2 s)';
    case 'template':
      return '(first run: unpacking a ready-made data directory, usually 1 to 3 s)';
    case 'initdb':
      return `(first run: initdb inside WebAssembly, which can take 5 to 30 s, because ${plan.why})`;
  }
}

export async function startQuickstart(opts: QuickstartOptions): Promise<RunningQuickstart> {
  const dir = resolve(opts.dir);
  const { say } = opts;
  await checkPortFree(opts.port);
  const ids = await ensureIdentities(dir);
  for (const what of ids.made) say(`created ${what}`);
  if (ids.made.length === 0) say(`reusing the CA and the "${DEMO_IDENTITY}" identity in ${dir}`);

  let embedded: EmbeddedPostgres | undefined;
  let upstream: QuickstartUpstream;
  if (opts.upstream) {
    upstream = upstreamFromUrl(dir, opts.upstream);
    say(`upstream: PostgreSQL at ${opts.upstream.host}:${opts.upstream.port}, database ${opts.upstream.dbname}, as ${opts.upstream.user}`);
  } else {
    const dataDir = join(dir, 'pgdata');
    const plan = planDataDir(dataDir);
    say(`starting the embedded PostgreSQL (PGlite), data in ${dataDir} ${expectation(plan)}`);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // Loaded only here: PGlite is the heaviest dependency, and --upstream never needs it.
    const { startEmbeddedPostgres } = await import('./embedded-postgres.js');
    embedded = await startEmbeddedPostgres(dataDir, plan);
    upstream = upstreamFromEmbedded(embedded);
  }

  let gateway: Gateway | undefined;
  try {
    const configPath = join(dir, 'pgmoat.yaml');
    writeFileAtomic(configPath, quickstartConfig({ port: opts.port, environment: DEMO_ENVIRONMENT, upstream }), 0o644);
    const loaded = await loadConfig(configPath);
    gateway = new Gateway(await buildRuntimeConfig(loaded), opts.logger);
    // The port comes from --port here, not from a pgmoat.yaml the user wrote.
    await gateway.listen({ what: 'the quick start', setting: '--port' });
  } catch (err) {
    await gateway?.shutdown(0);
    await embedded?.stop();
    throw err;
  }

  const target: ConnectTarget = { host: HOST, port: opts.port, database: QUICKSTART_DATABASE, user: DEMO_IDENTITY, files: ids.client };
  say('');
  say(`pgmoat is in front of ${embedded ? 'the embedded PostgreSQL' : 'your PostgreSQL'}; clients need a certificate from ${ids.caCert}.`);
  say(`A client logs in as the role its certificate names ("${DEMO_IDENTITY}"); upstream, pgmoat logs in as ${upstream.user}${embedded ? " (PGlite's only user)" : ''}.`);
  say('Connect with psql:');
  say(`  ${psqlCommand(target)}`);
  say('Or from Node.js with node-postgres:');
  say(nodePostgresSnippet(target).replace(/^/gm, '  '));
  say('');
  say('Without the certificate, the gateway refuses:');
  const caPem = readFileSync(ids.caCert, 'utf8');
  for (const probe of [probePlain(HOST, opts.port, QUICKSTART_DATABASE, DEMO_IDENTITY), probeTlsWithoutCertificate(HOST, opts.port, QUICKSTART_DATABASE, DEMO_IDENTITY, caPem)]) {
    const outcome = await probe;
    const label = outcome.attempt === 'plain' ? 'plain connection (no TLS)      ' : 'TLS without a client certificate';
    say(`  ${label} -> ${outcome.refused ? 'refused' : 'NOT REFUSED'}: ${outcome.answer}`);
  }
  say('');

  const gw = gateway;
  let stopping: Promise<void> | undefined;
  return {
    port: opts.port,
    target,
    stop() {
      stopping ??= (async () => {
        await gw.shutdown(gw.runtime.config.shutdown_timeout);
        await embedded?.stop();
      })();
      return stopping;
    },
  };
}
