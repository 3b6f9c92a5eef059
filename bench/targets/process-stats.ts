/** What a pooler process costs, read from /proc: resident memory and CPU time. */
import { readdirSync, readFileSync } from 'node:fs';

/** VmRSS of a process in kB (undefined when it is gone). */
export function rssKb(pid: number): number | undefined {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

const CLOCK_TICKS = 100; // USER_HZ on Linux

/** User and kernel CPU time of a process (its threads included) in milliseconds. */
function cpuTimes(pid: number): { userMs: number; systemMs: number } | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces: fields count from after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { userMs: (Number(fields[11]) * 1000) / CLOCK_TICKS, systemMs: (Number(fields[12]) * 1000) / CLOCK_TICKS };
  } catch {
    return undefined;
  }
}

/** utime + stime of a process (its threads included) in milliseconds. */
export function cpuMs(pid: number): number | undefined {
  const t = cpuTimes(pid);
  return t && t.userMs + t.systemMs;
}

export interface ProcessCounters {
  cpuMs: number;
  systemMs: number;
  voluntarySwitches: number;
  involuntarySwitches: number;
}

/** CPU time (all, and the kernel's part) and context switches of a process; undefined when it is gone. */
export function processCounters(pid: number): ProcessCounters | undefined {
  const t = cpuTimes(pid);
  if (t === undefined) return undefined;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const count = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0);
    return { cpuMs: t.userMs + t.systemMs, systemMs: t.systemMs, voluntarySwitches: count('voluntary_ctxt_switches'), involuntarySwitches: count('nonvoluntary_ctxt_switches') };
  } catch {
    return undefined;
  }
}

/** CPU time of several processes together (a pooler with worker processes). */
export function cpuMsAll(pids: readonly number[]): number | undefined {
  let total = 0;
  for (const pid of pids) {
    const ms = cpuMs(pid);
    if (ms === undefined) return undefined;
    total += ms;
  }
  return total;
}

export function rssKbAll(pids: readonly number[]): number | undefined {
  let total = 0;
  for (const pid of pids) {
    const kb = rssKb(pid);
    if (kb === undefined) return undefined;
    total += kb;
  }
  return total;
}

/** A process and all its descendants (node:cluster workers), from /proc/<pid>/task/<tid>/children. */
export function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    const p = out[i]!;
    let tasks: string[] = [];
    try {
      tasks = readdirSync(`/proc/${p}/task`);
    } catch {
      continue;
    }
    for (const tid of tasks) {
      try {
        for (const c of readFileSync(`/proc/${p}/task/${tid}/children`, 'utf8').split(' ')) {
          const child = Number(c);
          if (Number.isInteger(child) && child > 0 && !out.includes(child)) out.push(child);
        }
      } catch {
        // task ended meanwhile
      }
    }
  }
  return out;
}
