/**
 * @pgmoat/client as an application gets it before it is published: `npm pack` in
 * packages/client, then `npm install` of the tarball (or of the folder) in a project of its own,
 * with no network (`--offline`: the package has no dependency to fetch), then imported by plain
 * Node (no tsx) and used with a real certificate. The sizes and the install time are reported
 * (diagnostics), never asserted against a clock.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makePki, type ClientFiles, type Pki } from '../harness/cert-factory.js';

const pkgDir = new URL('../../packages/client/', import.meta.url).pathname;
const rootModules = new URL('../../node_modules', import.meta.url).pathname;
let work: string;
let pki: Pki;
let alice: ClientFiles;

/** npm without what an enclosing `npm test` puts in the environment, and with a cache of its own. */
function npm(args: string[], cwd: string): string {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.toLowerCase().startsWith('npm_')) env[k] = v;
  Object.assign(env, { npm_config_cache: join(work, 'npm-cache'), npm_config_update_notifier: 'false', npm_config_audit: 'false', npm_config_fund: 'false' });
  const r = spawnSync('npm', args, { cwd, env, encoding: 'utf8' });
  assert.equal(r.status, 0, `npm ${args.join(' ')} failed:\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

function project(name: string): string {
  const dir = join(work, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true, type: 'module' }));
  // What an application does with the package: plain Node, ESM, a real certificate from the environment.
  writeFileSync(
    join(dir, 'main.mjs'),
    `import { sslFromEnv, sslFollowingFiles, PgmoatClientError } from '@pgmoat/client';
const ssl = sslFromEnv();
const following = sslFollowingFiles();
let missing;
try { sslFromEnv({}); } catch (err) { missing = err instanceof PgmoatClientError ? err.code : String(err); }
console.log(JSON.stringify({ keys: Object.keys(ssl).sort(), serial: following.current.serial, missing }));
`,
  );
  return dir;
}

function bytesUnder(path: string): number {
  const st = lstatSync(path);
  if (!st.isDirectory()) return st.size;
  return readdirSync(path).reduce((sum, name) => sum + bytesUnder(join(path, name)), 0);
}

function runApp(dir: string): { keys: string[]; serial: string; missing: string } {
  const r = spawnSync(process.execPath, ['main.mjs'], {
    cwd: dir,
    env: { PATH: process.env.PATH ?? '', PGSSLCERT: alice.certPath, PGSSLKEY: alice.keyPath, PGSSLROOTCERT: pki.main.caPath },
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, `node main.mjs failed:\n${r.stdout}\n${r.stderr}`);
  return JSON.parse(r.stdout) as { keys: string[]; serial: string; missing: string };
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), 'pgmoat-client-pack-'));
  pki = await makePki();
  alice = await pki.client('alice');
});

after(() => {
  pki?.cleanup();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('@pgmoat/client from a clone', () => {
  it('npm pack, then npm install --offline of the tarball: plain Node imports it and builds TLS options; nothing else is installed', { timeout: 180_000 }, (t) => {
    // Packed from a copy of the package's sources, so that its prepack build (tsc) does not rewrite
    // packages/client/dist while other test files import it; the copy borrows the clone's node_modules.
    const copy = join(work, 'client-src');
    for (const entry of ['package.json', 'README.md', 'tsconfig.json', 'src']) cpSync(join(pkgDir, entry), join(copy, entry), { recursive: true });
    symlinkSync(rootModules, join(copy, 'node_modules'));
    const packed = JSON.parse(npm(['pack', '--json', '--pack-destination', work], copy)) as { filename: string; size: number; unpackedSize: number; files: { path: string }[] }[];
    const info = packed[0]!;
    assert.equal(info.filename, 'pgmoat-client-0.1.0.tgz');
    const files = info.files.map((f) => f.path).sort();
    assert.ok(files.includes('dist/index.js') && files.includes('dist/index.d.ts'), `prepack built the ESM code and its types: ${files.join(', ')}`);
    assert.deepEqual(files.filter((f) => !/^dist\/[a-z0-9-]+\.(js|d\.ts)$/.test(f)).sort(), ['README.md', 'package.json'], 'nothing but dist, README and package.json');

    const app = project('from-tarball');
    const started = performance.now();
    npm(['install', '--offline', '--no-audit', '--no-fund', join(work, info.filename)], app);
    const installMs = Math.round(performance.now() - started);
    const modules = join(app, 'node_modules');
    assert.deepEqual(readdirSync(modules).filter((n) => n !== '.package-lock.json'), ['@pgmoat'], 'no dependency came with it');
    assert.deepEqual(readdirSync(join(modules, '@pgmoat')), ['client']);
    const installed = bytesUnder(join(modules, '@pgmoat', 'client'));

    const out = runApp(app);
    assert.deepEqual(out.keys, ['ca', 'cert', 'key', 'rejectUnauthorized']);
    assert.equal(out.serial, alice.serial);
    assert.equal(out.missing, 'MISSING_VARIABLE');
    t.diagnostic(`tarball ${info.size} bytes (${info.files.length} files, ${info.unpackedSize} unpacked); installed ${installed} bytes; npm install --offline took ${installMs} ms`);
  });

  it('a path dependency on packages/client (npm install --offline /path/to/packages/client) imports the same way', { timeout: 120_000 }, (t) => {
    const app = project('from-path');
    npm(['install', '--offline', '--no-audit', '--no-fund', pkgDir.replace(/\/$/, '')], app);
    const link = join(app, 'node_modules', '@pgmoat', 'client');
    assert.ok(lstatSync(link).isSymbolicLink() || statSync(join(link, 'dist', 'index.js')).isFile());
    const out = runApp(app);
    assert.equal(out.serial, alice.serial);
    assert.equal(out.missing, 'MISSING_VARIABLE');
    t.diagnostic(`node_modules/@pgmoat/client is ${lstatSync(link).isSymbolicLink() ? 'a link to' : 'a copy of'} packages/client`);
  });
});
