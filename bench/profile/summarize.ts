/**
 * Where pgmoat's time goes, from the .cpuprofile files `npm run bench -- --cpu-prof` leaves in
 * bench/work/prof/<run>/:
 *
 *   node dist/bench/profile/summarize.js bench/work/prof/<run>/*.cpuprofile [--tx N] [--top 25]
 *
 * Prints markdown: time by area, the top functions by self time and by inclusive time (pgmoat's
 * own functions), each also in µs per transaction when --tx gives the number of transactions
 * the profile covered.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { merge, summarize, type CpuProfile } from './cpu-profile.js';
import { renderSummary } from './render.js';

function main(): void {
  const { values, positionals } = parseArgs({
    args: process.argv.slice(2),
    allowPositionals: true,
    options: { tx: { type: 'string' }, top: { type: 'string' }, help: { type: 'boolean' } },
  });
  if (values.help || positionals.length === 0) {
    process.stdout.write('usage: node dist/bench/profile/summarize.js FILE.cpuprofile... [--tx TRANSACTIONS] [--top N]\n');
    process.exit(positionals.length === 0 && !values.help ? 2 : 0);
  }
  const summaries = positionals.map((file) => summarize(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile));
  const tx = values.tx !== undefined ? Number(values.tx) : undefined;
  const top = values.top !== undefined ? Number(values.top) : 25;
  process.stdout.write(renderSummary(merge(summaries), { top, tx: tx && Number.isFinite(tx) && tx > 0 ? tx : undefined }) + '\n');
}

main();
