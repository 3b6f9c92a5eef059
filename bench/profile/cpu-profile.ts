/**
 * Aggregates a V8 .cpuprofile (what `node --cpu-prof` writes): self and inclusive time per
 * function, and self time per area (pgmoat's own files, node core modules, dependencies,
 * native work outside JavaScript, garbage collection, idle).
 *
 * Time per sample is the gap to the next sample (as Chrome DevTools counts it).
 */

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface FunctionTime {
  key: string;
  functionName: string;
  location: string;
  area: string;
  selfUs: number;
  totalUs: number;
}

export interface ProfileSummary {
  wallUs: number;
  idleUs: number;
  busyUs: number;
  functions: FunctionTime[];
  areas: Map<string, number>;
}

/** Shortens a script URL to something readable: dist/src/relay/client-session.js, node:net, pino/lib/proto.js. */
export function shortUrl(url: string): string {
  if (url === '') return '';
  if (url.startsWith('node:')) return url;
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) return url.slice(nm + '/node_modules/'.length);
  const dist = url.indexOf('/dist/');
  if (dist >= 0) return url.slice(dist + 1);
  return url.replace(/^file:\/\//, '');
}

/** Which part of the process a frame belongs to. */
export function areaOf(frame: CallFrame): string {
  const { url, functionName } = frame;
  if (url === '') {
    if (functionName === '(idle)') return 'idle';
    if (functionName === '(garbage collector)') return 'garbage collector';
    if (functionName === '(program)') return 'native, outside JS (libuv, OpenSSL record I/O in TLSWrap, ...)';
    return 'native builtins';
  }
  if (url.startsWith('node:')) return `node core: ${url.replace(/^node:(internal\/)?/, '')}`;
  const short = shortUrl(url);
  if (url.includes('/node_modules/')) return `dependency: ${short.split('/')[0]}`;
  if (short.startsWith('dist/src/')) return `pgmoat: ${short.slice('dist/src/'.length)}`;
  return short;
}

export function summarize(profile: CpuProfile): ProfileSummary {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of profile.nodes) byId.set(n.id, n);
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  const fnKey = (f: CallFrame): string => `${f.functionName || '(anonymous)'}|${f.url}:${f.lineNumber + 1}`;
  const functions = new Map<string, FunctionTime>();
  const fnOf = (node: ProfileNode): FunctionTime => {
    const key = fnKey(node.callFrame);
    let ft = functions.get(key);
    if (!ft) {
      const url = shortUrl(node.callFrame.url);
      ft = {
        key,
        functionName: node.callFrame.functionName || '(anonymous)',
        location: url ? `${url}:${node.callFrame.lineNumber + 1}` : '',
        area: areaOf(node.callFrame),
        selfUs: 0,
        totalUs: 0,
      };
      functions.set(key, ft);
    }
    return ft;
  };

  const areas = new Map<string, number>();
  let idleUs = 0;
  let sampledUs = 0;
  const { samples, timeDeltas } = profile;
  const seen = new Set<FunctionTime>();
  for (let i = 0; i < samples.length; i++) {
    const dt = i + 1 < timeDeltas.length ? timeDeltas[i + 1]! : 0;
    if (dt <= 0) continue;
    const leaf = byId.get(samples[i]!);
    if (!leaf) continue;
    const self = fnOf(leaf);
    self.selfUs += dt;
    sampledUs += dt;
    areas.set(self.area, (areas.get(self.area) ?? 0) + dt);
    if (self.area === 'idle') idleUs += dt;
    // Inclusive: every distinct function on the stack once (recursion is not counted twice).
    seen.clear();
    for (let id: number | undefined = leaf.id; id !== undefined; id = parent.get(id)) {
      const node = byId.get(id)!;
      if (node.callFrame.functionName === '(root)') break;
      const ft = fnOf(node);
      if (seen.has(ft)) continue;
      seen.add(ft);
      ft.totalUs += dt;
    }
  }
  const wallUs = profile.endTime - profile.startTime;
  return { wallUs, idleUs, busyUs: sampledUs - idleUs, functions: [...functions.values()], areas };
}

/** Adds the figures of several profiles (one per process or per run). */
export function merge(summaries: ProfileSummary[]): ProfileSummary {
  const functions = new Map<string, FunctionTime>();
  const areas = new Map<string, number>();
  let wallUs = 0;
  let idleUs = 0;
  let busyUs = 0;
  for (const s of summaries) {
    wallUs += s.wallUs;
    idleUs += s.idleUs;
    busyUs += s.busyUs;
    for (const [a, us] of s.areas) areas.set(a, (areas.get(a) ?? 0) + us);
    for (const f of s.functions) {
      const cur = functions.get(f.key);
      if (cur) {
        cur.selfUs += f.selfUs;
        cur.totalUs += f.totalUs;
      } else {
        functions.set(f.key, { ...f });
      }
    }
  }
  return { wallUs, idleUs, busyUs, functions: [...functions.values()], areas };
}
