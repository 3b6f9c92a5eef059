/** The process logger the CLI hands to the gateway: pino JSON lines, or short readable lines. */
import { pino, type Logger, type Level } from 'pino';
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

/**
 * JSON lines are written synchronously, one write(2) per line, as PgBouncer writes its log and as
 * Node writes to a file or pipe on standard output. The asynchronous mode cost a thread-pool round
 * trip per line: about 90 µs of CPU per session under `pgbench -C` (bench/README.md), where the two
 * audit lines are most of what is logged. A line is also on disk before the next event, so an exit
 * or crash loses none. The price: a log reader that stops reading stalls the gateway.
 */
export function createLogger(level: Level | 'silent', format: 'json' | 'pretty', dest: NodeJS.WritableStream = process.stdout): Logger {
  if (format === 'json') return pino({ level, base: undefined }, pino.destination({ dest: dest === process.stdout ? 1 : 2, sync: true }));
  const out = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line) dest.write(prettyLine(line));
      cb();
    },
  });
  return pino({ level, base: undefined }, out);
}
