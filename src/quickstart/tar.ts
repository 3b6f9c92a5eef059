/**
 * The smallest tar (ustar) that the quick start's data-directory template needs: regular files
 * and directories, names under 100 bytes, nothing else. Packing is deterministic (sorted names,
 * one mtime, owner 0), so a regenerated template differs only where PostgreSQL's files do.
 */
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PgmoatError } from '../util/errors.js';

const BLOCK = 512;

export interface TarEntry {
  /** Relative, '/'-separated; a directory has no trailing slash. */
  name: string;
  type: 'file' | 'dir';
  data: Uint8Array;
}

function corrupt(why: string): PgmoatError {
  return new PgmoatError('EMBEDDED_PG_FAILED', `the embedded PostgreSQL's data-directory template is damaged: ${why}`);
}

function readString(block: Uint8Array, at: number, len: number): string {
  const field = block.subarray(at, at + len);
  const end = field.indexOf(0);
  return Buffer.from(end < 0 ? field : field.subarray(0, end)).toString('utf8');
}

function readOctal(block: Uint8Array, at: number, len: number): number {
  const text = readString(block, at, len).trim();
  if (!/^[0-7]+$/.test(text)) throw corrupt(`bad number field ${JSON.stringify(text)}`);
  return parseInt(text, 8);
}

function checksum(block: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
  return sum;
}

/** A name that stays inside the directory it is unpacked into. */
function safeName(name: string): boolean {
  if (name === '' || name.startsWith('/') || name.includes('\\')) return false;
  return name.split('/').every((part) => part !== '' && part !== '.' && part !== '..');
}

export function readTar(tar: Uint8Array): TarEntry[] {
  const entries: TarEntry[] = [];
  let at = 0;
  while (at + BLOCK <= tar.length) {
    const header = tar.subarray(at, at + BLOCK);
    if (header.every((b) => b === 0)) return entries;
    if (readOctal(header, 148, 8) !== checksum(header)) throw corrupt(`header checksum mismatch at byte ${at}`);
    const prefix = readString(header, 345, 155);
    const name = (prefix ? `${prefix}/` : '') + readString(header, 0, 100).replace(/\/$/, '');
    if (!safeName(name)) throw corrupt(`unsafe entry name ${JSON.stringify(name)}`);
    const size = readOctal(header, 124, 12);
    const flag = String.fromCharCode(header[156]!);
    at += BLOCK;
    if (at + size > tar.length) throw corrupt(`entry ${name} runs past the end`);
    if (flag === '5') entries.push({ name, type: 'dir', data: new Uint8Array(0) });
    else if (flag === '0' || flag === '\0') entries.push({ name, type: 'file', data: tar.subarray(at, at + size) });
    else throw corrupt(`entry ${name} has unsupported type ${JSON.stringify(flag)}`);
    at += Math.ceil(size / BLOCK) * BLOCK;
  }
  throw corrupt('no end-of-archive marker');
}

/** Writes the entries under `dir` (which must exist): directories 0700, files 0600. */
export function unpackTar(tar: Uint8Array, dir: string): void {
  for (const entry of readTar(tar)) {
    const path = join(dir, ...entry.name.split('/'));
    if (entry.type === 'dir') mkdirSync(path, { recursive: true, mode: 0o700 });
    else writeFileSync(path, entry.data, { mode: 0o600 });
  }
}

function header(name: string, type: 'file' | 'dir', size: number): Uint8Array {
  const block = new Uint8Array(BLOCK);
  const put = (at: number, text: string) => block.set(Buffer.from(text, 'utf8'), at);
  const octal = (at: number, len: number, n: number) => put(at, n.toString(8).padStart(len - 1, '0'));
  if (Buffer.byteLength(name) >= 100) throw new PgmoatError('USAGE', `tar entry name too long for this packer: ${name}`);
  put(0, name);
  octal(100, 8, type === 'dir' ? 0o700 : 0o600);
  octal(108, 8, 0);
  octal(116, 8, 0);
  octal(124, 12, size);
  octal(136, 12, 0);
  block[156] = (type === 'dir' ? '5' : '0').charCodeAt(0);
  put(257, 'ustar\u000000');
  put(148, `${checksum(block).toString(8).padStart(6, '0')}\u0000 `);
  return block;
}

/** Packs everything under `dir` (regular files and directories only), sorted by name. */
export function packDir(dir: string): Uint8Array {
  const parts: Uint8Array[] = [];
  const walk = (rel: string) => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const relName = rel ? `${rel}/${name}` : name;
      const full = join(dir, relName);
      const st = statSync(full);
      if (st.isDirectory()) {
        parts.push(header(relName, 'dir', 0));
        walk(relName);
      } else if (st.isFile()) {
        const data = readFileSync(full);
        parts.push(header(relName, 'file', data.length), data);
        const pad = (BLOCK - (data.length % BLOCK)) % BLOCK;
        if (pad) parts.push(new Uint8Array(pad));
      } else {
        throw new PgmoatError('USAGE', `cannot pack ${full}: not a regular file or directory`);
      }
    }
  };
  walk('');
  parts.push(new Uint8Array(2 * BLOCK));
  return Buffer.concat(parts);
}
