/** CPU time of a process tree whose members come and go (Chromium's renderers and helpers). */
import { cpuMs } from '../targets/process-stats.js';

/** utime + stime summed over the processes still there (ms); undefined when none is. */
export function cpuMsTree(pids: readonly number[]): number | undefined {
  let total: number | undefined;
  for (const pid of pids) {
    const ms = cpuMs(pid);
    if (ms !== undefined) total = (total ?? 0) + ms;
  }
  return total;
}
