/** `pgmoat agent`: keep one certificate/key pair fresh through the renewal service. */
import type { Command } from 'commander';
import { constants } from 'node:os';
import { PgmoatError } from '../../util/errors.js';
import { createLogger } from '../../util/logger.js';
import { parseDuration } from '../../config/duration.js';
import { RenewalAgent } from '../../renewal/agent.js';
import { remoteRenewOptions } from '../renew-remote.js';

interface AgentCliOptions {
  remote: string;
  cert: string;
  key: string;
  ca?: string;
  keyPassphraseFile?: string;
  keyType?: string;
  renewAt: string;
  jitter: string;
  exec?: string;
  signal?: string;
  retryMin: string;
  retryMax: string;
  logLevel: 'trace' | 'debug' | 'info' | 'warn' | 'error';
}

function fraction(value: string, option: string, min: number, max: number): number {
  const n = value.includes('/') ? Number(value.split('/')[0]) / Number(value.split('/')[1]) : Number(value);
  if (!Number.isFinite(n) || n < min || n > max) throw new PgmoatError('USAGE', `invalid ${option} ${JSON.stringify(value)}: a number from ${min} to ${max} (e.g. 0.7 or 2/3)`);
  return n;
}

function ms(value: string, option: string): number {
  const r = parseDuration(value);
  if (!r.ok || r.value <= 0) throw new PgmoatError('USAGE', `invalid ${option} ${JSON.stringify(value)}: a duration such as 1s or 5m`);
  return r.value;
}

/** PID or PID:SIGNAL (default SIGHUP). */
function parseSignal(value: string): { pid: number; signal: NodeJS.Signals } {
  const [p, s] = value.split(':');
  const pid = Number(p);
  const signal = (s === undefined ? 'SIGHUP' : s.startsWith('SIG') ? s : `SIG${s}`).toUpperCase() as NodeJS.Signals;
  if (!Number.isInteger(pid) || pid <= 0 || !(signal in constants.signals)) throw new PgmoatError('USAGE', `invalid --signal ${JSON.stringify(value)}: use PID or PID:SIGNAL, e.g. 1234:HUP`);
  return { pid, signal };
}

export function register(program: Command): void {
  program
    .command('agent')
    .description('keep a certificate/key pair fresh through the renewal service (runs until stopped)')
    .requiredOption('--remote <url>', 'the renewal service, https://HOST:PORT')
    .requiredOption('--cert <file>', 'the certificate to keep fresh (replaced in place)')
    .requiredOption('--key <file>', 'its key (replaced in place by a new one, 0600)')
    .option('--ca <file>', 'the CA bundle the service is checked against (default: ca.crt beside --cert)')
    .option('--key-passphrase-file <file>', 'passphrase of an encrypted key (the new keys are encrypted with it too)')
    .option('--key-type <type>', 'type of the new keys (default: as the current one)')
    .option('--renew-at <fraction>', 'renew once this fraction of the lifetime has passed (0.7, 2/3, ...)', '2/3')
    .option('--jitter <fraction>', 'spread of the renewal point, as a fraction of the lifetime', '0.05')
    .option('--exec <command>', 'run this shell command after each renewal (e.g. reload the application)')
    .option('--signal <pid[:signal]>', 'signal this process after each renewal (default signal HUP)')
    .option('--retry-min <duration>', 'first retry delay after a failed renewal (doubles up to --retry-max)', '1s')
    .option('--retry-max <duration>', 'longest retry delay', '5m')
    .option('--log-level <level>', 'trace, debug, info, warn or error', 'info')
    .addHelpText(
      'after',
      '\nLogs one JSON line per event on stdout. Exits 0 on SIGTERM/SIGINT; exits 1 when the service refuses the\n' +
        'certificate for good (revoked, unknown, or expired and refused).',
    )
    .action(async (opts: AgentCliOptions) => {
      const sig = opts.signal !== undefined ? parseSignal(opts.signal) : undefined;
      const log = createLogger(opts.logLevel, 'json');
      const agent = new RenewalAgent({
        ...remoteRenewOptions(opts),
        renewAt: fraction(opts.renewAt, '--renew-at', 0.01, 0.99),
        jitter: fraction(opts.jitter, '--jitter', 0, 0.5),
        exec: opts.exec,
        signalPid: sig?.pid,
        signal: sig?.signal,
        retryMinMs: ms(opts.retryMin, '--retry-min'),
        retryMaxMs: ms(opts.retryMax, '--retry-max'),
        log,
      });
      const stop = (signal: string): void => {
        log.info({ event: 'shutdown', signal }, 'agent stopping');
        agent.stop();
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
      try {
        await agent.run();
      } finally {
        log.flush();
      }
    });
}
