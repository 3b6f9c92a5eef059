import type { Command } from 'commander';
import { createLogger } from '../../util/logger.js';
import { note, print } from '../cli-helpers.js';
import { PgmoatError } from '../../util/errors.js';
import { DEFAULT_QUICKSTART_DIR, DEFAULT_QUICKSTART_PORT, startQuickstart } from '../../quickstart/run-quickstart.js';
import { parseUpstreamUrl } from '../../quickstart/upstream-url.js';

interface QuickstartOptions {
  dir: string;
  port: string;
  upstream?: string;
}

function parsePort(value: string): number {
  const n = /^\d{1,5}$/.test(value) ? Number(value) : NaN;
  if (!(n >= 1 && n <= 65535)) throw new PgmoatError('USAGE', `invalid --port ${JSON.stringify(value)}: use a number from 1 to 65535`);
  return n;
}

export function register(program: Command): void {
  program
    .command('quickstart')
    .description('try pgmoat in one command: a CA, a client identity "demo" and an embedded PostgreSQL behind the gateway (verify-full)')
    .option('--dir <dir>', 'where the CA, certificates, config and data live; a second run reuses them', DEFAULT_QUICKSTART_DIR)
    .option('--port <port>', 'the gateway port on 127.0.0.1', String(DEFAULT_QUICKSTART_PORT))
    .option('--upstream <url>', 'put this PostgreSQL behind the gateway instead of the embedded one (postgres://user:password@host:port/db)')
    .addHelpText('after', '\nRuns until Ctrl-C (SIGINT) or SIGTERM, then stops the gateway and the embedded PostgreSQL.')
    .action(async (opts: QuickstartOptions) => {
      const port = parsePort(opts.port);
      const upstream = opts.upstream === undefined ? undefined : parseUpstreamUrl(opts.upstream);
      const log = createLogger('info', 'pretty', process.stderr);
      const running = await startQuickstart({ dir: opts.dir, port, upstream, logger: log, say: print });
      print(`pgmoat quickstart: ready on 127.0.0.1:${running.port} (Ctrl-C to stop)`);
      const signal = await new Promise<string>((resolve) => {
        process.once('SIGINT', () => resolve('SIGINT'));
        process.once('SIGTERM', () => resolve('SIGTERM'));
      });
      note(`pgmoat quickstart: ${signal}, stopping`);
      await running.stop();
      note('pgmoat quickstart: stopped');
      log.flush();
    });
}
