/** The process logger the CLI hands to the gateway: pino JSON lines, or short readable lines. */
import { pino, type DestinationStream, type Logger, type Level } from 'pino';
import { Writable } from 'node:stream';

function prettyLine(line: string): string {
  try {
    const rec = JSON.parse(line) as Record<string, unknown>;
    const { time, level, msg, pid: _pid, hostname: _host, ...rest } = rec;
    const lvl = pino.levels.labels[Number(level)] ?? String(level);
    const extra = Object.entries(rest)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(' ');
    return `${new Date(Number(time)).toISOString()} ${lvl.toUpperCase()} ${String(msg ?? '')}${extra ? ` ${extra}` : ''}\n`;
  } catch {
    return line.endsWith('\n') ? line : `${line}\n`;
  }
}

/** Lines kept for an output that cannot take them now, at most; beyond that new lines are dropped. */
const MAX_QUEUED_LOG_BYTES = 16 * 1024 * 1024;

/**
 * Where JSON lines go: written synchronously, one write(2) per line, as PgBouncer writes its log.
 * The asynchronous mode cost a thread-pool round trip per line: 30 to 95 µs of CPU per session
 * under `pgbench -C` across runs (bench/README.md), where the two audit lines are most of what is
 * logged.
 *
 * A write never waits and never throws into the gateway. Node makes a pipe or socket on standard
 * output non-blocking once `process.stdout` (or `process.stderr`) is touched, which is why both are
 * read here. When the output cannot take a line (a reader that stopped reading: EAGAIN; a full disk:
 * ENOSPC), the line stays queued and the next log call tries again; past MAX_QUEUED_LOG_BYTES new
 * lines are dropped. Lines still queued when the process exits are lost: waiting for a stalled
 * reader would keep the process from exiting.
 */
function jsonDestination(fd: 1 | 2): DestinationStream {
  void (fd === 1 ? process.stdout : process.stderr);
  const destination = pino.destination({ dest: fd, sync: true, retryEAGAIN: () => false, maxLength: MAX_QUEUED_LOG_BYTES });
  destination.on('error', () => undefined);
  return destination;
}

export function createLogger(level: Level | 'silent', format: 'json' | 'pretty', dest: NodeJS.WritableStream = process.stdout): Logger {
  if (format === 'json') return pino({ level, base: undefined }, jsonDestination(dest === process.stdout ? 1 : 2));
  const out = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) dest.write(prettyLine(line));
      cb();
    },
  });
  return pino({ level, base: undefined }, out);
}
