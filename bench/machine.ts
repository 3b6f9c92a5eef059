/** The machine a result was measured on, and how busy it was. */
import { cpus, loadavg, release, totalmem } from 'node:os';

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
}

export function machineInfo(): MachineInfo {
  const list = cpus();
  return {
    cpuModel: list[0]?.model.trim() ?? 'unknown',
    cores: list.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: release(),
  };
}

/** 1, 5 and 15 minute load averages, rounded. */
export function loadAverage(): [number, number, number] {
  const [a = 0, b = 0, c = 0] = loadavg();
  const r = (x: number): number => Math.round(x * 100) / 100;
  return [r(a), r(b), r(c)];
}
