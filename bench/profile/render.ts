/** Markdown for a profile summary: time by area, top functions by self and inclusive time. */
import type { FunctionTime, ProfileSummary } from './cpu-profile.js';

function pct(us: number, of: number): string {
  return of > 0 ? `${((us * 100) / of).toFixed(1)}%` : '–';
}

function perTx(us: number, tx: number | undefined): string {
  return tx ? (us / tx).toFixed(2) : '–';
}

function fnRow(f: FunctionTime, us: number, busy: number, tx: number | undefined): string {
  return `| \`${f.functionName}\` | ${f.location || f.area} | ${(us / 1000).toFixed(0)} | ${pct(us, busy)} | ${perTx(us, tx)} |`;
}

export function renderSummary(s: ProfileSummary, o: { top: number; tx: number | undefined }): string {
  const out: string[] = [];
  out.push(
    `Profiled ${(s.wallUs / 1e6).toFixed(1)} s of wall time; sampled busy (not idle) ${(s.busyUs / 1e6).toFixed(1)} s` +
      (o.tx ? `; ${o.tx} units of work: ${(s.busyUs / o.tx).toFixed(1)} µs busy per unit.` : '.'),
    '',
    "V8's profiler samples wall time: a thread preempted inside a syscall (a write that wakes the peer process on a",
    'small machine) is counted in the function that made the call. Compare with the CPU time the benchmark reads from /proc.',
    '',
    '| area | self ms | share of busy | µs/tx |',
    '|---|---:|---:|---:|',
  );
  const areas = [...s.areas].filter(([a]) => a !== 'idle').sort((a, b) => b[1] - a[1]);
  for (const [area, us] of areas.slice(0, o.top)) out.push(`| ${area} | ${(us / 1000).toFixed(0)} | ${pct(us, s.busyUs)} | ${perTx(us, o.tx)} |`);

  out.push('', `Top ${o.top} functions by self time:`, '', '| function | where | self ms | share of busy | µs/tx |', '|---|---|---:|---:|---:|');
  const bySelf = s.functions.filter((f) => f.area !== 'idle').sort((a, b) => b.selfUs - a.selfUs);
  for (const f of bySelf.slice(0, o.top)) out.push(fnRow(f, f.selfUs, s.busyUs, o.tx));

  out.push('', `Top ${o.top} pgmoat functions by inclusive time (their callees included):`, '', '| function | where | total ms | share of busy | µs/tx |', '|---|---|---:|---:|---:|');
  const own = s.functions.filter((f) => f.area.startsWith('pgmoat:')).sort((a, b) => b.totalUs - a.totalUs);
  for (const f of own.slice(0, o.top)) out.push(fnRow(f, f.totalUs, s.busyUs, o.tx));
  return out.join('\n');
}
