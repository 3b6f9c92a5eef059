/** `pgmoat ca serve`: the renewal service alone, on the host that keeps the CA directory. */
import type { Command } from 'commander';
import { join } from 'node:path';
import { PgmoatError } from '../../util/errors.js';
import { createLogger } from '../../util/logger.js';
import { parseDuration } from '../../config/duration.js';
import { startRenewalService } from '../../renewal/start.js';
import { registerAdopt } from './ca-adopt.js';
import { registerIntermediateCommands } from './ca-intermediate.js';
import { registerMigrate } from './ca-migrate.js';

interface CaServeOptions {
  dir: string;
  listen: string;
  cert?: string;
  key?: string;
  keyPassphraseFile?: string;
  caPassphraseFile?: string;
  caPassphraseEnv?: string;
  expiredGrace: string;
  rateLimit: string;
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error';
}

function durationMs(value: string, option: string): number {
  const r = parseDuration(value);
  if (!r.ok) throw new PgmoatError('USAGE', `invalid ${option} ${JSON.stringify(value)}: ${r.reason}`);
  return r.value;
}

/** HOST:PORT, [v6]:PORT or PORT. */
function parseListen(value: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(value) ?? /^()()(\d+)$/.exec(value);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) throw new PgmoatError('USAGE', `invalid --listen ${JSON.stringify(value)}: use HOST:PORT, e.g. 0.0.0.0:8443`);
  return { host: m[1] || m[2] || '127.0.0.1', port };
}

/** N/DURATION, e.g. 20/1h. */
function parseRateLimit(value: string): { max: number; windowMs: number } {
  const [n, d] = value.split('/');
  const max = Number(n);
  if (!Number.isInteger(max) || max < 1 || d === undefined) throw new PgmoatError('USAGE', `invalid --rate-limit ${JSON.stringify(value)}: use N/DURATION, e.g. 20/1h`);
  return { max, windowMs: durationMs(d, '--rate-limit duration') };
}

export function register(program: Command): void {
  const ca = program.command('ca').description('the certificate authority: the renewal service, the intermediates of a two-level CA, adopting an existing CA');
  registerIntermediateCommands(ca);
  registerAdopt(ca);
  registerMigrate(ca);
  ca.command('serve')
    .description('run the renewal service (HTTPS, mutual TLS): POST /v1/renew, GET /v1/ca, GET /v1/crl')
    .requiredOption('--dir <dir>', 'the CA directory')
    .option('--listen <host:port>', 'where to listen', '127.0.0.1:8443')
    .option('--cert <file>', "the listener's certificate (default: server.crt of the CA directory, from pgmoat issue-server)")
    .option('--key <file>', "the listener's key (default: server.key of the CA directory)")
    .option('--key-passphrase-file <file>', "passphrase of an encrypted listener key")
    .option('--ca-passphrase-file <file>', 'passphrase of an encrypted CA key (file, 0600)')
    .option('--ca-passphrase-env <name>', 'passphrase of an encrypted CA key (environment variable)')
    .option('--expired-grace <duration>', 'let a certificate renew this long after it expired (default 0: never)', '0')
    .option('--rate-limit <n/duration>', 'renewals per identity per window', '20/1h')
    .option('--log-level <level>', 'trace, debug, info, warn or error', 'info')
    .addHelpText(
      'after',
      '\nA client renews with its current certificate: pgmoat renew --remote https://HOST:PORT --cert F --key F.\n' +
        'Every renewal and refusal is one JSON line on stdout. SIGTERM/SIGINT stop the service.',
    )
    .action(async (opts: CaServeOptions) => {
      if (opts.caPassphraseFile !== undefined && opts.caPassphraseEnv !== undefined) {
        throw new PgmoatError('USAGE', '--ca-passphrase-file and --ca-passphrase-env are mutually exclusive');
      }
      const { host, port } = parseListen(opts.listen);
      const log = createLogger(opts.logLevel, 'json');
      const server = await startRenewalService(
        {
          host,
          port,
          caDir: opts.dir,
          caPassphraseFile: opts.caPassphraseFile,
          caPassphraseEnv: opts.caPassphraseEnv,
          expiredGraceMs: durationMs(opts.expiredGrace, '--expired-grace'),
          rateLimit: parseRateLimit(opts.rateLimit),
          certFile: opts.cert ?? join(opts.dir, 'server.crt'),
          keyFile: opts.key ?? join(opts.dir, 'server.key'),
          keyPassphraseFile: opts.keyPassphraseFile,
        },
        log,
      );
      await new Promise<void>((resolve) => {
        const stop = (signal: string): void => {
          log.info({ event: 'shutdown', signal }, 'renewal service stopping');
          void server.close().then(resolve, resolve);
        };
        process.once('SIGTERM', () => stop('SIGTERM'));
        process.once('SIGINT', () => stop('SIGINT'));
      });
      log.flush();
    });
}
