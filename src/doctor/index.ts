/** pgmoat doctor: diagnose a connection to a pgmoat gateway (or PostgreSQL) step by step. */
export { runDoctor, type DoctorOptions } from './run.js';
export { parseTarget, describeTarget, type DoctorTarget } from './target.js';
export { STEPS, type StepId, type StepResult, type StepStatus, type DoctorReport } from './types.js';
