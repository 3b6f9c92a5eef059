/**
 * Runs `pgmoat doctor --json` from source as a child process, asynchronously: a synchronous
 * child would freeze the event loop of an in-process gateway it talks to, and both would wait forever.
 */
import { spawn } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DoctorReport, StepResult } from '../../src/doctor/index.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = join(ROOT, 'src/cli/main.ts');
const TSX = import.meta.resolve('tsx');

export interface DoctorRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The parsed --json report (undefined when the run was not --json or printed none). */
  report: (DoctorReport & { target: string }) | undefined;
}

/** The environment of the child: none of this machine's PG* or PGCLIENT_* variables leak in. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PG')) env[k] = v;
  return { ...env, NODE_OPTIONS: '', ...extra };
}

export function doctor(args: readonly string[], env: Record<string, string> = {}): Promise<DoctorRun> {
  return pgmoat(['doctor', ...args], env);
}

/** Any pgmoat command (e.g. the one a fix names); `report` is parsed for `doctor ... --json`. */
export function pgmoat(args: readonly string[], env: Record<string, string> = {}): Promise<DoctorRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', TSX, MAIN, ...args], { cwd: ROOT, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.on('error', reject);
    child.on('close', (code) => {
      let report: DoctorRun['report'];
      if (args[0] === 'doctor' && args.includes('--json')) {
        try {
          report = JSON.parse(stdout) as DoctorRun['report'];
        } catch {
          report = undefined;
        }
      }
      resolve({ code, stdout, stderr, report });
    });
  });
}

/** The last step of a report: the failing one, or login on success. */
export function lastStep(run: DoctorRun): StepResult {
  const steps = run.report?.steps ?? [];
  const last = steps[steps.length - 1];
  if (!last) throw new Error(`no report: exit ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`);
  return last;
}

/** Writes a file with the given mode (the doctor refuses secrets others can read). */
export function writeFile(dir: string, name: string, text: string, mode = 0o600): string {
  const path = join(dir, name);
  writeFileSync(path, text, { mode });
  chmodSync(path, mode);
  return path;
}
