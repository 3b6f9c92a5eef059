#!/usr/bin/env node
// Builds packages/client (the @pgmoat/client workspace) when its dist/ is missing or older than
// its sources: the gateway and the tests import the package through node_modules, that is from
// its dist/, so an edit to packages/client/src must be built before it is seen.
// Usage: node scripts/client-build.mjs [--force]
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

const pkg = new URL('../packages/client/', import.meta.url).pathname;

function newest(paths) {
  let t = 0;
  for (const p of paths) if (existsSync(p)) t = Math.max(t, statSync(p).mtimeMs);
  return t;
}

export function clientIsStale() {
  const src = join(pkg, 'src');
  const inputs = [...readdirSync(src).map((f) => join(src, f)), join(pkg, 'package.json'), join(pkg, 'tsconfig.json')];
  const dist = join(pkg, 'dist');
  if (!existsSync(dist)) return true;
  const outputs = readdirSync(dist).filter((f) => f.endsWith('.js') || f.endsWith('.d.ts'));
  const expected = readdirSync(src).filter((f) => f.endsWith('.ts')).length * 2;
  if (outputs.length < expected) return true;
  const oldest = Math.min(...outputs.map((f) => statSync(join(dist, f)).mtimeMs));
  return newest(inputs) > oldest;
}

export function buildClient() {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const r = spawnSync(process.execPath, [tsc, '-p', join(pkg, 'tsconfig.json')], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`building packages/client failed (tsc exit ${r.status})`);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  if (process.argv.includes('--force') || clientIsStale()) buildClient();
}
