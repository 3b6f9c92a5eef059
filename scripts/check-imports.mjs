#!/usr/bin/env node
// Fails when src/ has an import loop (between files or between folders) or a folder imports
// a folder that ranks above it in ROOMS. Part of `npm test`, so a new loop is caught at once.
// Usage: node scripts/check-imports.mjs [--graph] [--src DIR]
//   --graph prints the folder-level edges; --src checks another tree (the test uses it).
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

const root = resolve(new URL('..', import.meta.url).pathname);
const srcAt = process.argv.indexOf('--src');
const src = srcAt > 0 ? resolve(process.argv[srcAt + 1]) : join(root, 'src');

// Lowest first. A folder may import only folders of a lower rank; folders of one rank are
// siblings and may not import each other. Keep this list and the README's architecture
// section in the same order.
const ROOMS = [
  ['util', 'client'],
  ['protocol', 'ca'],
  ['auth'],
  ['config'],
  ['revocation'],
  ['tls'],
  ['upstream', 'accept'],
  ['runtime'],
  ['relay'],
  ['pool'],
  ['access'],
  ['gateway'],
  ['admin', 'doctor', 'pgbouncer-import', 'renewal'],
  ['cluster'],
  ['quickstart'],
  ['cli'],
];
const rankOf = new Map(ROOMS.flatMap((names, rank) => names.map((n) => [n, rank])));

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    if (statSync(full).isDirectory()) walk(full, out);
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.endsWith('.test-helper.ts')) out.push(full);
  }
  return out;
}

const roomOf = (file) => {
  const rel = relative(src, file);
  return rel.includes('/') ? rel.slice(0, rel.indexOf('/')) : '.';
};

const files = walk(src, []);
const known = new Set(files);
/** file -> files it imports (type-only imports included: they bind the design as much as values do). */
const edges = new Map();
for (const file of files) {
  const info = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
  const targets = [];
  for (const ref of info.importedFiles) {
    if (!ref.fileName.startsWith('.')) continue;
    const target = resolve(dirname(file), ref.fileName.replace(/\.js$/, '.ts'));
    if (known.has(target)) targets.push(target);
    else if (known.has(join(target, 'index.ts'))) targets.push(join(target, 'index.ts'));
  }
  edges.set(file, targets);
}

/** Tarjan's strongly connected components; every component of more than one node is a loop. */
function loops(nodes, next) {
  let index = 0;
  const idx = new Map();
  const low = new Map();
  const stack = [];
  const onStack = new Set();
  const found = [];
  const visit = (v) => {
    idx.set(v, index);
    low.set(v, index);
    index++;
    stack.push(v);
    onStack.add(v);
    for (const w of next(v)) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const component = [];
      let w;
      do {
        w = stack.pop();
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || next(v).includes(v)) found.push(component);
    }
  };
  for (const v of nodes) if (!idx.has(v)) visit(v);
  return found;
}

const problems = [];
for (const component of loops(files, (f) => edges.get(f))) {
  problems.push(`import loop between files: ${component.map((f) => relative(src, f)).sort().join(' <-> ')}`);
}

const roomEdges = new Map();
for (const [file, targets] of edges) {
  const from = roomOf(file);
  for (const target of targets) {
    const to = roomOf(target);
    if (from === to) continue;
    const key = `${from} -> ${to}`;
    if (!roomEdges.has(key)) roomEdges.set(key, []);
    roomEdges.get(key).push(`${relative(src, file)} imports ${relative(src, target)}`);
  }
}
const rooms = [...new Set(files.map(roomOf))].sort();
for (const room of rooms) if (!rankOf.has(room)) problems.push(`src/${room}/ is not in ROOMS of scripts/check-imports.mjs: give it a rank`);
const roomNext = (r) => [...roomEdges.keys()].filter((k) => k.startsWith(`${r} -> `)).map((k) => k.slice(r.length + 4));
for (const component of loops(rooms, roomNext)) problems.push(`import loop between folders: ${component.sort().join(' <-> ')}`);
for (const [key, why] of roomEdges) {
  const [from, to] = key.split(' -> ');
  if (!rankOf.has(from) || !rankOf.has(to)) continue;
  if (rankOf.get(to) >= rankOf.get(from)) {
    problems.push(`upward import ${from}/ -> ${to}/ (${to} does not rank below ${from}): ${why.slice(0, 3).join('; ')}${why.length > 3 ? `; and ${why.length - 3} more` : ''}`);
  }
}

if (process.argv.includes('--graph')) for (const key of [...roomEdges.keys()].sort()) console.log(key);
if (problems.length > 0) {
  for (const p of problems) console.error(`check-imports: ${p}`);
  console.error(`check-imports: ${problems.length} problem(s) in ${files.length} files`);
  process.exit(1);
}
console.log(`check-imports: ${files.length} files in ${rooms.length} folders, no loop, no upward import`);
