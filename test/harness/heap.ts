/**
 * Heap inspection for leak tests and investigations: a forced full GC without starting node
 * with --expose-gc, and live objects counted by constructor from a V8 heap snapshot.
 *
 *   const before = await heapCounts();
 *   ... N reloads ...
 *   const grown = diffCounts(before, await heapCounts(), 5);   // constructors that grew by >= 5
 */
import { getHeapSnapshot, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let gcFn: (() => void) | undefined;

/** Several full collections (weak callbacks and FinalizationRegistry cleanups need more than one). */
export async function forceGc(rounds = 3): Promise<void> {
  if (!gcFn) {
    setFlagsFromString('--expose-gc');
    gcFn = runInNewContext('gc') as () => void;
  }
  for (let i = 0; i < rounds; i++) {
    gcFn();
    // Let finalizers and weak callbacks run between collections.
    await new Promise((resolve) => setImmediate(resolve));
  }
}

export interface HeapCount {
  count: number;
  /** Sum of shallow sizes, in bytes. */
  bytes: number;
}

interface SnapshotJson {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

const OBJECT_TYPES = new Set(['object', 'closure', 'native', 'array']);

/**
 * Live objects by "type:name" (type object, closure, native or array; name is the constructor
 * or function name), after a forced GC. `allTypes` counts strings, code and V8's internal
 * nodes too. Takes a full heap snapshot: seconds on a large heap.
 */
export async function heapCounts(opts: { allTypes?: boolean } = {}): Promise<Map<string, HeapCount>> {
  await forceGc();
  const chunks: string[] = [];
  for await (const chunk of getHeapSnapshot()) chunks.push(typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8'));
  const snap = JSON.parse(chunks.join('')) as SnapshotJson;
  const fields = snap.snapshot.meta.node_fields;
  const types = snap.snapshot.meta.node_types[0];
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const out = new Map<string, HeapCount>();
  for (let i = 0; i < snap.nodes.length; i += width) {
    const type = types[snap.nodes[i + typeAt]!]!;
    if (!opts.allTypes && !OBJECT_TYPES.has(type)) continue;
    const key = `${type}:${snap.strings[snap.nodes[i + nameAt]!]}`;
    const entry = out.get(key);
    if (entry) {
      entry.count++;
      entry.bytes += snap.nodes[i + sizeAt]!;
    } else {
      out.set(key, { count: 1, bytes: snap.nodes[i + sizeAt]! });
    }
  }
  return out;
}

export interface HeapGrowth {
  key: string;
  before: number;
  after: number;
  delta: number;
  bytesDelta: number;
}

/** Keys whose count grew by at least `minDelta`, largest growth first. */
export function diffCounts(before: Map<string, HeapCount>, after: Map<string, HeapCount>, minDelta: number): HeapGrowth[] {
  const out: HeapGrowth[] = [];
  for (const [key, a] of after) {
    const b = before.get(key) ?? { count: 0, bytes: 0 };
    const delta = a.count - b.count;
    if (delta >= minDelta) out.push({ key, before: b.count, after: a.count, delta, bytesDelta: a.bytes - b.bytes });
  }
  return out.sort((x, y) => y.delta - x.delta);
}

/** Live objects of one constructor (key "object:Name" etc.) in a count map. */
export function countOf(counts: Map<string, HeapCount>, key: string): number {
  return counts.get(key)?.count ?? 0;
}
