/**
 * How hard the fault suite pushes: `npm test` runs it once at size 1; `npm run faults -- --size N`
 * sets PGMOAT_FAULTS_SIZE so that each test repeats its fault N times (restarts, kills, cuts).
 */
export function faultRounds(): number {
  const raw = process.env.PGMOAT_FAULTS_SIZE;
  if (raw === undefined || raw === '') return 1;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new Error(`PGMOAT_FAULTS_SIZE must be a whole number from 1 to 1000, not "${raw}"`);
  return n;
}
