/**
 * The JSON log's destination (logger.ts): each line written synchronously, and never a wait or an
 * exception in the caller when the output cannot take it. Each case runs the logger in a child
 * process whose standard output is that kind of file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const TSX = import.meta.resolve('tsx');
const LOGGER = fileURLToPath(new URL('./logger.ts', import.meta.url));

/**
 * The child logs `lines` lines. After each one it reports on stderr whether that line is already
 * in the file named by `probe` (only meaningful when stdout is that file), then says "done".
 */
function childScript(lines: number, probe: string | null, afterDone = ''): string {
  return `
    import { readFileSync } from 'node:fs';
    const { createLogger } = await import(${JSON.stringify(LOGGER)});
    const log = createLogger('info', 'json');
    let inFileAtOnce = 0;
    for (let i = 0; i < ${lines}; i++) {
      log.info({ event: 'probe', i }, 'line ' + i);
      ${probe ? `if (readFileSync(${JSON.stringify(probe)}, 'utf8').includes('"i":' + i + ',')) inFileAtOnce++;` : ''}
    }
    process.stderr.write('inFileAtOnce=' + inFileAtOnce + '\\n');
    process.stderr.write('done\\n');
    ${afterDone}
  `;
}

/** `stalled`: standard output is a pipe that is not read until the child has said "done". */
function runChild(stdout: number | 'pipe' | 'stalled', script: string): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', TSX, '--input-type=module', '-e', script], { stdio: ['ignore', stdout === 'stalled' ? 'pipe' : stdout, 'pipe'] });
    let stderr = '';
    let out = '';
    const readStdout = (): void => void child.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
      if (stdout === 'stalled' && stderr.includes('done\n')) readStdout();
    });
    if (stdout !== 'stalled') readStdout();
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the logging child did not finish:\n${stderr}`));
    }, 30_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, stdout: out });
    });
  });
}

test('to a regular file, each JSON line is in the file when log.info returns', { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgmoat-log-'));
  try {
    const path = join(dir, 'out.log');
    const fd = openSync(path, 'w');
    const r = await runChild(fd, childScript(200, path)).finally(() => closeSync(fd));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /inFileAtOnce=200\n/);
    const lines = readFileSync(path, 'utf8').trim().split('\n');
    assert.equal(lines.length, 200);
    assert.deepEqual(
      lines.map((l) => (JSON.parse(l) as { i: number }).i),
      Array.from({ length: 200 }, (_, i) => i),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a full disk (/dev/full): log calls do not throw and the process carries on', { timeout: 60_000 }, async () => {
  const fd = openSync('/dev/full', 'w');
  const r = await runChild(fd, childScript(50, null)).finally(() => closeSync(fd));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /done\n/);
});

test('to a pipe, every line arrives, in order', { timeout: 60_000 }, async () => {
  const r = await runChild('pipe', childScript(2000, null));
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 2000);
  assert.deepEqual(
    lines.map((l) => (JSON.parse(l) as { i: number }).i),
    Array.from({ length: 2000 }, (_, i) => i),
  );
});

test('a pipe nobody reads: log calls neither wait nor throw, and what arrives is in order', { timeout: 60_000 }, async () => {
  // About 2 MB of lines: far more than the pipe and the reader's buffer hold.
  const r = await runChild('stalled', childScript(20_000, null));
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /done\n/);
  const got = r.stdout.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { i: number }).i);
  assert.ok(got.length > 0, 'the lines the pipe held arrive');
  got.forEach((i, k) => assert.equal(i, k, 'lines arrive in order, none twice'));
});

test('lines queued behind a slow reader go out while the process is quiet, not only at the next log call or at exit', { timeout: 60_000 }, async () => {
  // After "done" the child logs nothing more and is killed 1.5 s later (SIGKILL: no exit flush), so
  // only the retry timer can deliver what the stalled pipe could not take.
  const r = await runChild('stalled', childScript(20_000, null, "setTimeout(() => process.kill(process.pid, 'SIGKILL'), 1500);"));
  assert.match(r.stderr, /done\n/);
  const got = r.stdout.split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { i: number }).i);
  assert.equal(got.length, 20_000);
  got.forEach((i, k) => assert.equal(i, k, 'lines arrive in order, none twice'));
});
