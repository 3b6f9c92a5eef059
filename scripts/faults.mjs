#!/usr/bin/env node
// The fault suite (test/faults): real PostgreSQL processes restarted, killed and stopped under
// load, half-sent messages, CRL files replaced, slow readers.
// Usage: npm run faults -- [--size N] [substring ...]
//   --size N   repeat each fault N times (default 1, what `npm test` runs; `--size 10` for a long run)
import { spawnSync } from 'node:child_process';

const args = process.argv.slice(2);
let size = '1';
const filters = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--size') size = args[++i] ?? '';
  else if (args[i].startsWith('--size=')) size = args[i].slice(7);
  else if (args[i] === '--help' || args[i] === '-h') {
    console.log('usage: npm run faults -- [--size N] [file substring ...]\n  --size N  repeat each fault N times (default 1, as in npm test)');
    process.exit(0);
  } else filters.push(args[i]);
}
if (!/^[1-9][0-9]{0,2}$/.test(size) && size !== '1000') {
  console.error(`faults: --size must be a whole number from 1 to 1000, not "${size}"`);
  process.exit(2);
}
const paths = filters.length > 0 ? filters.map((f) => (f.includes('/') ? f : `test/faults/${f}`)) : ['test/faults/'];
const r = spawnSync(process.execPath, [new URL('./run-tests.mjs', import.meta.url).pathname, ...paths], {
  stdio: 'inherit',
  env: { ...process.env, PGMOAT_FAULTS_SIZE: size, PGMOAT_TEST_CONCURRENCY: process.env.PGMOAT_TEST_CONCURRENCY ?? '1' },
});
process.exit(r.status ?? 1);
