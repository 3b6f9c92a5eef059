/** Writes a run to bench/results/<date>.json and, on request, its table into bench/README.md. */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchResults } from './model.js';
import { renderNotes, renderTable } from './table.js';

export function writeResults(dir: string, r: BenchResults, quick: boolean): string {
  mkdirSync(dir, { recursive: true });
  const stamp = r.date.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z');
  const path = join(dir, `${stamp}${quick ? '-quick' : ''}.json`);
  writeFileSync(path, JSON.stringify(r, null, 2) + '\n');
  return path;
}

const START = '<!-- bench:latest:start -->';
const END = '<!-- bench:latest:end -->';

/** The markdown block that goes between the README's markers. */
export function latestBlock(r: BenchResults, resultsFile: string): string {
  const m = r.machine;
  const v = r.versions;
  return [
    `Measured ${r.date} on ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, Linux ${m.kernel}; load average ${r.loadAverageStart.join(' / ')} at the start and ${r.loadAverageEnd.join(' / ')} at the end (1/5/15 min).`,
    `Node ${v.node} (OpenSSL ${v.openssl}), PostgreSQL ${v.postgres}, pgbench ${v.pgbench}, PgBouncer ${v.pgbouncers && v.pgbouncers.length > 1 ? v.pgbouncers.join(' and ') : (v.pgbouncer ?? 'not installed')}, pgmoat ${v.pgmoat}. Raw figures: \`${resultsFile}\`.`,
    ...(r.note ? [`Note: ${r.note}`] : []),
    '',
    renderTable(r),
    '',
    renderNotes(r),
  ].join('\n');
}

export function updateReadme(readmePath: string, block: string): boolean {
  if (!existsSync(readmePath)) return false;
  const text = readFileSync(readmePath, 'utf8');
  const a = text.indexOf(START);
  const b = text.indexOf(END);
  if (a < 0 || b < a) return false;
  writeFileSync(readmePath, `${text.slice(0, a + START.length)}\n${block}\n${text.slice(b)}`);
  return true;
}
