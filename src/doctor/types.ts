/**
 * What a doctor run reports: one result per step, in order. A run stops at the first failing
 * step, because every later step needs the earlier ones to have worked.
 */

export const STEPS = {
  resolve: { number: 1, title: 'name resolution' },
  tcp: { number: 2, title: 'TCP connect' },
  'ssl-request': { number: 3, title: 'SSLRequest' },
  'server-certificate': { number: 4, title: 'server certificate' },
  'client-certificate': { number: 5, title: 'client certificate' },
  handshake: { number: 6, title: 'TLS handshake' },
  login: { number: 7, title: 'PostgreSQL login' },
  query: { number: 8, title: 'query' },
} as const;

export type StepId = keyof typeof STEPS;

/** `warn`: the step passed, but something deserves attention (expiring soon, unknown trust). */
export type StepStatus = 'ok' | 'warn' | 'fail';

export interface StepResult {
  step: StepId;
  status: StepStatus;
  /** One line, plain words, no secrets. */
  detail: string;
  /** For a failure: the one thing to do about it. */
  fix?: string;
  /**
   * A stable code for scripts and tests (e.g. CERT_EXPIRED, UNKNOWN_CA, HOSTNAME_MISMATCH,
   * KEY_PERMISSIONS, NO_TLS); absent for plain successes.
   */
  code?: string;
}

export interface DoctorReport {
  ok: boolean;
  steps: StepResult[];
  /** The failing step's result when !ok. */
  failure?: StepResult;
  /** On success, one line saying what works. */
  summary: string;
}

export function ok(step: StepId, detail: string): StepResult {
  return { step, status: 'ok', detail };
}

export function warn(step: StepId, detail: string, code: string): StepResult {
  return { step, status: 'warn', detail, code };
}

export function fail(step: StepId, code: string, detail: string, fix: string): StepResult {
  return { step, status: 'fail', detail, fix, code };
}
