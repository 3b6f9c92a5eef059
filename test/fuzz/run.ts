/**
 * pgmoat's protocol fuzzer (issue 12), as a command:
 *
 *   npm run fuzz -- --inputs 20000 [--seed S] [--layer pre-tls,tls,post-login] [--batch 500]
 *                   [--concurrency 16] [--keep-going] [--report FILE] [--out DIR]
 *   npm run fuzz -- --replay FILE [--bisect] [--concurrency N]
 *
 * It starts a PostgreSQL, a PKI and `pgmoat serve` as a process, sends generated inputs before
 * TLS, in the TLS layer and after login, and after every batch checks that the gateway is alive,
 * answers SELECT 1 through every server of every pool, has no stuck pool, no extra upstream
 * backend and no leaked descriptor. Exit status 1 when a check failed.
 */
import { parseArgs } from 'node:util';
import { readFileSync, writeFileSync } from 'node:fs';
import { randomSeed } from './prng.js';
import { LAYERS, type Layer, type Script } from './script.js';
import { DEFAULT_OPTIONS, fuzz, replay } from './fuzzer.js';
import { DEFAULT_CHECKS } from './checks.js';
import { generate } from './generate.js';

const USAGE = `usage: npm run fuzz -- --inputs N [--seed S] [--layer ${LAYERS.join(',')}] [--batch B] [--concurrency C]
                        [--keep-going] [--report FILE] [--out DIR] [--probe-timeout MS] [--max-rss MB]
       npm run fuzz -- --replay FILE [--bisect] [--concurrency C]
       npm run fuzz -- --seed S --scripts ID,ID... [--layer ...] [--bisect]   (scripts of a run, made again from its seed)`;

function positiveInt(name: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v.replace(/_/g, ''));
  if (!Number.isInteger(n) || n < 0) {
    console.error(`--${name} wants a whole number, got ${v}\n${USAGE}`);
    process.exit(2);
  }
  return n;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      inputs: { type: 'string' },
      seed: { type: 'string' },
      layer: { type: 'string' },
      batch: { type: 'string' },
      concurrency: { type: 'string' },
      'keep-going': { type: 'boolean', default: false },
      report: { type: 'string' },
      out: { type: 'string' },
      'probe-timeout': { type: 'string' },
      'max-rss': { type: 'string' },
      replay: { type: 'string' },
      scripts: { type: 'string' },
      bisect: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const checks = { ...DEFAULT_CHECKS, maxRssMb: positiveInt('max-rss', values['max-rss'], DEFAULT_CHECKS.maxRssMb) };
  const probeTimeoutMs = positiveInt('probe-timeout', values['probe-timeout'], DEFAULT_OPTIONS.probeTimeoutMs);
  const concurrency = Math.max(1, positiveInt('concurrency', values.concurrency, DEFAULT_OPTIONS.concurrency));

  const layers = (values.layer ?? LAYERS.join(',')).split(',').map((l) => l.trim()) as Layer[];
  for (const l of layers) {
    if (!LAYERS.includes(l)) {
      console.error(`unknown layer ${l}\n${USAGE}`);
      return 2;
    }
  }
  const seed = values.seed !== undefined ? positiveInt('seed', values.seed, 0) : randomSeed();

  if (values.replay || values.scripts) {
    let scripts: Script[];
    let base: string;
    if (values.replay) {
      scripts = (JSON.parse(readFileSync(values.replay, 'utf8')) as { scripts: Script[] }).scripts;
      base = values.replay.replace(/\.json$/, '');
    } else {
      // The same seed and the same --layer as the run that made them give the same scripts.
      scripts = values.scripts!.split(',').map((id) => generate(seed, positiveInt('scripts', id, 0), layers));
      base = `fuzz-${seed}-scripts`;
    }
    // A stuck pool stays stuck: a shorter settle deadline makes each bisect trial cheaper.
    const replayChecks = { ...checks, settleMs: 8000, queryMs: 10_000 };
    const r = await replay({ scripts, concurrency, probeTimeoutMs, checks: replayChecks, bisect: values.bisect, log: (l) => console.log(l) });
    if (r.minimal) {
      const file = `${base}.min.json`;
      writeFileSync(file, JSON.stringify({ scripts: r.minimal }, null, 1));
      console.log(`minimal scripts saved to ${file}`);
    }
    return r.reproduced ? 1 : 0;
  }
  const summary = await fuzz({
    ...DEFAULT_OPTIONS,
    inputs: positiveInt('inputs', values.inputs, 2000),
    seed,
    layers,
    batch: Math.max(1, positiveInt('batch', values.batch, DEFAULT_OPTIONS.batch)),
    concurrency,
    keepGoing: values['keep-going'],
    outDir: values.out ?? DEFAULT_OPTIONS.outDir,
    probeTimeoutMs,
    checks,
    log: (l) => console.log(l),
  });
  const line = `fuzz: seed ${summary.seed}: ${summary.inputs} inputs (${Object.entries(summary.inputsByLayer).map(([k, v]) => `${k} ${v}`).join(', ')}) in ${summary.seconds.toFixed(0)} s, ${summary.inputsPerSecond.toFixed(0)} inputs/s; ${summary.failures.length} failed batch(es)`;
  console.log(line);
  if (values.report) {
    writeFileSync(values.report, JSON.stringify(summary, null, 1));
    console.log(`report written to ${values.report}`);
  }
  return summary.failures.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
