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
/** How soon lines queued behind a slow reader are tried again when nothing else is logged. */
const EAGAIN_RETRY_MS = 100;
/** At exit, how long queued lines may wait for a reader that is slow (EAGAIN) before they are given up. */
const EXIT_FLUSH_MS = 2000;

/**
 * Where JSON lines go: written synchronously, one write(2) per line, as PgBouncer writes its log.
 * The asynchronous mode cost a thread-pool round trip per line: 30 to 95 µs of CPU per session
 * under `pgbench -C` across runs (bench/README.md), where the two audit lines are most of what is
 * logged.
 *
 * A write never waits and never throws into the gateway. Node makes a pipe or socket on standard
 * output non-blocking once `process.stdout` (or `process.stderr`) is touched, which is why both are
 * read here. When the output cannot take a line (a reader that is slow or stopped: EAGAIN; a full
 * disk: ENOSPC), the line stays queued and the next log call tries again (after EAGAIN, a timer
 * does too, EAGAIN_RETRY_MS later); past MAX_QUEUED_LOG_BYTES
 * new lines are dropped. At exit, queued lines get EXIT_FLUSH_MS for a slow reader; after an error
 * other than EAGAIN they are given up at once (sonic-boom's flushSync would retry those forever).
 */
function jsonDestination(fd: 1 | 2): DestinationStream {
  void (fd === 1 ? process.stdout : process.stderr);
  let exitDeadline = 0;
  let lastError: string | undefined;
  const destination = pino.destination({
    dest: fd,
    sync: true,
    maxLength: MAX_QUEUED_LOG_BYTES,
    // Outside the exit flush, never sleep-and-retry on the event loop.
    retryEAGAIN: () => Date.now() < exitDeadline,
  });
  let retry: NodeJS.Timeout | undefined;
  destination.on('error', (err: NodeJS.ErrnoException) => {
    lastError = err.code ?? err.message;
    // A slow reader: try the queued lines again soon, not only at the next log call (a quiet
    // gateway may have none for a long time). An empty write makes sonic-boom retry what it holds.
    if (lastError === 'EAGAIN' && retry === undefined) {
      retry = setTimeout(() => {
        retry = undefined;
        destination.write('');
      }, EAGAIN_RETRY_MS).unref();
    }
  });
  process.once('exit', () => {
    if (lastError !== undefined && lastError !== 'EAGAIN') return;
    exitDeadline = Date.now() + EXIT_FLUSH_MS;
    try {
      destination.flushSync();
    } catch {
      // The reader did not take the rest within EXIT_FLUSH_MS.
    }
  });
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
