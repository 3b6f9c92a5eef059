/**
 * `npm run soak -- --minutes N`: pgmoat serve under mixed load for N minutes (see soak.ts), then a
 * report of memory, descriptors and load on standard output. Exits 1 on a crash, a stuck pool,
 * failed load, or growth over the second half beyond the thresholds (report.ts: RSS 48 MB or
 * 20 %, heap floor 16 MB or 25 %, 16 descriptors; generous on purpose: this is a soak tool, not
 * a test). `--json FILE` also writes the report as JSON.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { runSoak } from './soak.js';
import { DEFAULT_THRESHOLDS, formatReport } from './report.js';
import type { GatewayLauncher } from '../harness/gateway.js';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    clients: { type: 'string', default: '4' },
    rate: { type: 'string', default: '500' },
    'reload-every': { type: 'string', default: '3' },
    'revoke-every': { type: 'string', default: '10' },
    'renew-every': { type: 'string', default: '15' },
    'refuse-every': { type: 'string', default: '2' },
    'sample-every': { type: 'string' },
    launcher: { type: 'string', default: 'tsx' },
    'max-rss-growth-mb': { type: 'string' },
    'max-heap-growth-mb': { type: 'string' },
    'max-fd-growth': { type: 'string' },
    json: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  process.stdout.write(
    'usage: npm run soak -- [--minutes N] [--clients N] [--rate TPS] [--reload-every S] [--revoke-every S] [--renew-every S]\n' +
      '       [--refuse-every S] [--sample-every S] [--launcher tsx|bin|dist] [--max-rss-growth-mb MB] [--max-heap-growth-mb MB]\n' +
      '       [--max-fd-growth N] [--json FILE]\n' +
      'Defaults: 10 minutes, 4 pgbench clients at 500 TPS, a SIGHUP every 3 s, a revocation every 10 s, a renewal every 15 s,\n' +
      'a refused handshake every 2 s. Fails on growth over the second half of more than: RSS 48 MB or 20 %, heap floor 16 MB or 25 %,\n' +
      '16 descriptors; on a crash, a client waiting 20 s for a server, or failed load.\n',
  );
  process.exit(0);
}

function num(name: string, v: string | undefined, min: number): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < min) {
    process.stderr.write(`soak: --${name} must be a number >= ${min}, got ${v}\n`);
    process.exit(2);
  }
  return n;
}

const minutes = num('minutes', values.minutes, 0.1);
const launcher = values.launcher as GatewayLauncher;
if (!['tsx', 'bin', 'dist'].includes(launcher)) {
  process.stderr.write(`soak: --launcher must be tsx, bin or dist\n`);
  process.exit(2);
}
const thresholds = { ...DEFAULT_THRESHOLDS };
if (values['max-rss-growth-mb'] !== undefined) {
  thresholds.rssGrowthBytes = num('max-rss-growth-mb', values['max-rss-growth-mb'], 0) * 1048576;
  thresholds.rssGrowthFraction = 0;
}
if (values['max-heap-growth-mb'] !== undefined) {
  thresholds.heapGrowthBytes = num('max-heap-growth-mb', values['max-heap-growth-mb'], 0) * 1048576;
  thresholds.heapGrowthFraction = 0;
}
if (values['max-fd-growth'] !== undefined) thresholds.fdGrowth = num('max-fd-growth', values['max-fd-growth'], 0);

const report = await runSoak({
  minutes,
  clients: num('clients', values.clients, 1),
  rate: num('rate', values.rate, 0),
  reloadEverySeconds: num('reload-every', values['reload-every'], 0.2),
  revokeEverySeconds: num('revoke-every', values['revoke-every'], 1),
  renewEverySeconds: num('renew-every', values['renew-every'], 1),
  refuseEverySeconds: num('refuse-every', values['refuse-every'], 0.2),
  sampleEverySeconds: values['sample-every'] !== undefined ? num('sample-every', values['sample-every'], 0.2) : Math.min(10, Math.max(1, (minutes * 60) / 120)),
  launcher,
  thresholds,
  say: (line) => process.stderr.write(`${line}\n`),
});
process.stdout.write(`${formatReport(report)}\n`);
if (values.json) writeFileSync(values.json, `${JSON.stringify(report, null, 2)}\n`);
process.exit(report.ok ? 0 : 1);
