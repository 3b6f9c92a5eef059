/** Admin console tests: psql printing result sets as tables, and reading them back. */
import { execFile } from 'node:child_process';
import { pino, type Logger } from 'pino';
import { pgTool } from '../harness/pg-binaries.js';
import { conninfo, type ClientCertFiles } from '../harness/psql.js';

export interface TableResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** psql with its normal output (aligned tables with headers), errors in verbose form (with SQLSTATE). */
export function psqlTable(conn: string, sql: string, extra: string[] = []): Promise<TableResult> {
  return new Promise((resolve) => {
    execFile(
      pgTool('psql'),
      ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-v', 'VERBOSITY=verbose', ...extra, '-c', sql, conn],
      { encoding: 'utf8', timeout: 30_000, env: { ...process.env, PGCONNECT_TIMEOUT: '10' } },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr: stderr.trim() }),
    );
  });
}

/** Rows of one SHOW, as objects keyed by column name (psql unaligned with a header, no footer). */
export async function showRows(conn: string, sql: string): Promise<Record<string, string>[]> {
  const r = await psqlTable(conn, sql, ['-A', '-F', '\t', '-P', 'footer=off']);
  if (r.code !== 0) throw new Error(`psql ${sql} failed (${r.code}): ${r.stderr}`);
  const lines = r.stdout.split('\n').filter((l) => l !== '');
  const header = lines[0]?.split('\t') ?? [];
  return lines.slice(1).map((l) => {
    const cells = l.split('\t');
    return Object.fromEntries(header.map((h, i) => [h, cells[i] ?? '']));
  });
}

export function adminConn(port: number, cert: ClientCertFiles, user = 'ops'): string {
  return conninfo(port, { user, dbname: 'pgmoat', cert });
}

export function quietLog(): Logger {
  return pino({ level: 'silent' });
}

export interface Series {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus text format, sample lines only. */
export function parseMetrics(text: string): Series[] {
  const out: Series[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_x, c: string) => (c === 'n' ? '\n' : c));
    out.push({ name: m[1]!, labels, value: m[3] === '+Inf' ? Infinity : Number(m[3]) });
  }
  return out;
}

/** The value of the one sample with this name whose labels include `labels`; undefined when none. */
export function sample(series: Series[], name: string, labels: Record<string, string> = {}): number | undefined {
  const hits = series.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (hits.length > 1) throw new Error(`${hits.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return hits[0]?.value;
}

/** Sum of every sample with this name whose labels include `labels`. */
export function total(series: Series[], name: string, labels: Record<string, string> = {}): number {
  return series.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((n, s) => n + s.value, 0);
}
