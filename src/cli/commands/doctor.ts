import type { Command } from 'commander';
import { runDoctor, parseTarget, describeTarget, STEPS, type StepResult } from '../../doctor/index.js';
import { PgmoatError } from '../../util/errors.js';
import { print, readPassphrase } from '../cli-helpers.js';

interface DoctorCliOptions {
  cert?: string;
  key?: string;
  ca?: string;
  clientCa?: string;
  keyPassphraseFile?: string;
  timeout?: string;
  json?: boolean;
}

const LABEL = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL' } as const;
const TITLE_WIDTH = Math.max(...Object.values(STEPS).map((s) => s.title.length));

/** Details quote what the server said: keep its control characters off the terminal. */
function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\x00-\x1f\x7f-\x9f]/g, '?');
}

function line(r: StepResult): string {
  const s = STEPS[r.step];
  return `${LABEL[r.status]}  ${s.number}. ${s.title.padEnd(TITLE_WIDTH)}  ${printable(r.detail)}`;
}

function parseTimeout(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0 || n > 3600) throw new PgmoatError('USAGE', `invalid --timeout ${JSON.stringify(text)}: give seconds, e.g. 10`);
  return n * 1000;
}

export function register(program: Command): void {
  program
    .command('doctor')
    .description(
      'check a connection step by step (DNS, TCP, SSLRequest, server and client certificates, handshake, login, then SELECT 1 through the gateway to its upstream PostgreSQL) and name the fix for the first failing step; it says "It works" only when the query returned',
    )
    .argument('<conninfo>', "postgres://user@host:port/database, or 'host=H port=P dbname=D user=U sslcert=F sslkey=F sslrootcert=F' (PGPASSWORD is used if the server asks for a password)")
    .option('--cert <file>', 'client certificate (default: PGCLIENT_CERT_B64, else PGSSLCERT)')
    .option('--key <file>', 'client private key, mode 0600 (default: PGCLIENT_KEY_B64, else PGSSLKEY)')
    .option('--ca <file>', "CA that issued the gateway's certificate (default: PGCLIENT_CA_B64, else PGSSLROOTCERT; 'system' for the system store)")
    .option('--client-ca <file>', 'CA the gateway trusts for client certificates, when it is not --ca')
    .option('--key-passphrase-file <file>', 'passphrase of an encrypted key (default: PGCLIENT_KEY_PASSPHRASE)')
    .option('--timeout <seconds>', 'time allowed to each network step (default: connect_timeout from the URI, else 10)')
    .option('--json', 'print the report as one JSON object (steps with status, detail, code and fix) instead of lines')
    .action(async (conninfo: string, opts: DoctorCliOptions) => {
      const target = parseTarget(conninfo);
      const timeoutMs = parseTimeout(opts.timeout);
      const passphrase = readPassphrase(opts.keyPassphraseFile, 'key passphrase file');
      if (!opts.json) print(`pgmoat doctor: ${describeTarget(target)}`);
      const report = await runDoctor({
        target,
        cert: opts.cert,
        key: opts.key,
        ca: opts.ca,
        clientCa: opts.clientCa,
        passphrase,
        timeoutMs,
        onStep: (r) => {
          if (!opts.json) print(line(r));
        },
      });
      if (opts.json) print(JSON.stringify({ target: describeTarget(target), ...report }));
      if (!report.ok) throw new PgmoatError('DOCTOR_FAILED', report.summary);
      if (!opts.json) print(report.summary);
    });
}
