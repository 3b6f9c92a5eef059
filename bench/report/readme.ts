/**
 * Puts a saved run's table into bench/README.md (between its "bench:latest" markers), or prints
 * it when the README has no markers:
 *
 *   node dist/bench/report/readme.js bench/results/<date>.json
 */
import { readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchResults } from './model.js';
import { latestBlock, updateReadme } from './results-file.js';

const file = process.argv[2];
if (!file) {
  process.stderr.write('usage: node dist/bench/report/readme.js bench/results/<date>.json\n');
  process.exit(2);
}
// dist/bench/report/readme.js -> the repository root
const root = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const results = JSON.parse(readFileSync(file, 'utf8')) as BenchResults;
const block = latestBlock(results, relative(root, join(process.cwd(), file)));
if (updateReadme(join(root, 'bench/README.md'), block)) process.stderr.write('bench/README.md updated\n');
else process.stdout.write(block + '\n');
