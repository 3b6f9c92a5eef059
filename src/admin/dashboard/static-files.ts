/**
 * The dashboard's files: a fixed list of names, read from assets/dashboard/ of the installed
 * package and from uPlot's dist/ (resolved once, at start). A name not on the list is 404, so no
 * path the client writes ever reaches the file system.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { packageRoot } from '../../util/version.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/** assets/dashboard/ beside package.json (shipped with the package: "files"). */
function assetsDir(): string {
  return join(packageRoot() ?? '.', 'assets', 'dashboard');
}

function uplotDir(): string | undefined {
  try {
    return dirname(createRequire(import.meta.url).resolve('uplot/dist/uPlot.iife.min.js'));
  } catch {
    return undefined;
  }
}

export interface StaticFile {
  path: string;
  type: string;
}

/** URL path under /dashboard -> the file. */
export function dashboardFiles(): Map<string, StaticFile> {
  const a = assetsDir();
  const u = uplotDir();
  const files = new Map<string, StaticFile>();
  const add = (url: string, path: string): void => {
    const ext = path.slice(path.lastIndexOf('.'));
    files.set(url, { path, type: TYPES[ext] ?? 'application/octet-stream' });
  };
  add('/', join(a, 'index.html'));
  add('/index.html', join(a, 'index.html'));
  for (const name of ['app.js', 'app.css', 'favicon.svg']) add(`/assets/${name}`, join(a, name));
  if (u) {
    add('/assets/uplot.iife.min.js', join(u, 'uPlot.iife.min.js'));
    add('/assets/uplot.min.css', join(u, 'uPlot.min.css'));
  }
  return files;
}

/** The file's bytes, or undefined when it is not there (the UI not installed yet). */
export function readStatic(f: StaticFile): Buffer | undefined {
  try {
    return readFileSync(f.path);
  } catch {
    return undefined;
  }
}
