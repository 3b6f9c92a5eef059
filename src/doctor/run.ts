/**
 * `pgmoat doctor` as a library: runs the steps in order, reports each one as it finishes, and
 * stops at the first failure. It says "It works" only after a query came back: a gateway answers
 * the login itself and reaches PostgreSQL only for a statement. Nothing secret is sent before the server's certificate has
 * checked out: the StartupMessage and any password go only over a verified session.
 */
import { PgmoatClientError, type Env } from '@pgmoat/client/internal';
import { checkClientCertificate, fixContext } from './client-certificate.js';
import { certificateRefusal, translateTlsError } from './handshake-words.js';
import { login } from './login.js';
import { loadCa, loadCaFile, loadClient, type CaMaterial, type ClientLoad, type ClientMaterial } from './material.js';
import { connectTcp, resolveHost, sslRequest } from './network.js';
import { checkServerCertificate, noServerCertificate } from './server-certificate.js';
import { handshake, type HandshakeOutcome, type PeerChain } from './tls-handshake.js';
import type { DoctorTarget } from './target.js';
import { fail, ok, STEPS, type DoctorReport, type StepResult } from './types.js';
import { DOCTOR_QUERY, runQuery } from './query.js';
import { SILENT_CLOSE, handshakeFailed, loginResult, queryResult, refusalFix } from './verdicts.js';
import { chainsTo } from './x509-facts.js';

export interface DoctorOptions {
  target: DoctorTarget;
  /** File paths from the command line; they win over the URI's sslcert/sslkey/sslrootcert and the environment. */
  cert?: string;
  key?: string;
  ca?: string;
  /** The CA the gateway trusts for client certificates, when it differs from --ca. */
  clientCa?: string;
  /** The key's passphrase (read from --key-passphrase-file); else PGCLIENT_KEY_PASSPHRASE. */
  passphrase?: string;
  /** Default process.env: PGCLIENT_*_B64, PGSSL*, PGCLIENT_KEY_PASSPHRASE, PGPASSWORD. */
  env?: Env;
  /** Per network step. Default: the URI's connect_timeout, else 10 s. */
  timeoutMs?: number;
  now?: Date;
  /** Called as each step finishes (the CLI prints from here). */
  onStep?: (result: StepResult) => void;
}

const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * When the handshake failed after the server's certificate arrived, OpenSSL's verdict on it is
 * lost: recheck the chain and the validity window here.
 */
function verifyErrorOf(server: PeerChain, ca: CaMaterial, now: Date): string | undefined {
  const leaf = server.chain[0]!;
  if (ca.kind === 'file' && !chainsTo(leaf, server.chain.slice(1), ca.certs).ok) return 'UNABLE_TO_VERIFY_LEAF_SIGNATURE';
  if (now.getTime() > new Date(leaf.validTo).getTime()) return 'CERT_HAS_EXPIRED';
  if (now.getTime() < new Date(leaf.validFrom).getTime()) return 'CERT_NOT_YET_VALID';
  return undefined;
}

function loadClientCa(path: string | undefined): CaMaterial | StepResult | undefined {
  if (path === undefined) return undefined;
  try {
    return loadCaFile(path, '--client-ca', 'CA the gateway trusts for client certificates');
  } catch (err) {
    const message = err instanceof PgmoatClientError ? err.message : String(err);
    return fail('client-certificate', 'CLIENT_CA_UNREADABLE', message, 'pass --client-ca the PEM file of the CA the gateway trusts for client certificates (its ca.crt)');
  }
}

export async function runDoctor(opts: DoctorOptions): Promise<DoctorReport> {
  const t = opts.target;
  const env = opts.env ?? process.env;
  const now = opts.now ?? new Date();
  const timeoutMs = opts.timeoutMs ?? (t.connectTimeout !== undefined ? t.connectTimeout * 1000 : DEFAULT_TIMEOUT_MS);
  const steps: StepResult[] = [];
  const record = (r: StepResult): boolean => {
    steps.push(r);
    opts.onStep?.(r);
    return r.status !== 'fail';
  };
  const failed = (): DoctorReport => {
    const failure = steps[steps.length - 1]!;
    const s = STEPS[failure.step];
    return { ok: false, steps, failure, summary: `step ${s.number} (${s.title}) failed: ${failure.fix ?? failure.detail}` };
  };

  const resolved = await resolveHost(t.host, timeoutMs);
  if (!record(resolved.result) || !resolved.value) return failed();
  const tcp = await connectTcp(resolved.value, t.port, timeoutMs);
  if (!record(tcp.result) || !tcp.value) return failed();
  const ssl = await sslRequest(tcp.value, timeoutMs);
  if (!record(ssl.result) || !ssl.value) return failed();
  const raw = ssl.value;

  const files = { cert: opts.cert ?? t.sslcert, key: opts.key ?? t.sslkey, ca: opts.ca ?? t.sslrootcert, passphrase: opts.passphrase, env };
  let ca: CaMaterial;
  try {
    ca = loadCa(files);
  } catch (err) {
    raw.destroy();
    const message = err instanceof PgmoatClientError ? err.message : String(err);
    record(fail('server-certificate', 'CA_UNREADABLE', message, "pass --ca the PEM file of the CA that issued the gateway's certificate (ca.crt)"));
    return failed();
  }
  const client: ClientLoad = loadClient(files, now);
  const material: ClientMaterial | undefined = client.kind === 'loaded' ? client.material : undefined;
  const fixCtx = fixContext(client);

  // Step 4: the handshake, then the server's certificate it brought.
  const hs: HandshakeOutcome = await handshake({ socket: raw, host: t.host, ca, client: material, timeoutMs });
  const closeTls = (): void => {
    if (hs.kind === 'secure') hs.socket.destroy();
  };
  if (hs.kind === 'secure') {
    if (!record(checkServerCertificate(hs.server, hs.verifyError, t.host, ca, now))) return closeTls(), failed();
  } else if (hs.server) {
    if (!record(checkServerCertificate(hs.server, verifyErrorOf(hs.server, ca, now), t.host, ca, now))) return failed();
  } else if (hs.kind === 'timeout') {
    record(noServerCertificate(`no handshake within ${Math.round(timeoutMs / 1000)} s`, 'check the port in the URI and what sits between this machine and the server', 'HANDSHAKE_TIMEOUT'));
    return failed();
  } else {
    const r = translateTlsError(hs.error);
    record(noServerCertificate(r.words, refusalFix(r, fixCtx), r.code));
    return failed();
  }

  // Step 5: the client certificate, checked here; the server's verdict follows in step 6.
  const clientCa = loadClientCa(opts.clientCa);
  if (clientCa !== undefined && 'step' in clientCa) {
    closeTls();
    record(clientCa);
    return failed();
  }
  if (!record(checkClientCertificate(client, ca, clientCa, now))) return closeTls(), failed();

  // Step 6: the server's verdict on the client certificate. OpenSSL servers answer with an alert,
  // often only after the handshake completed on this side (TLS 1.3); Node servers close or send a FATAL.
  if (hs.kind !== 'secure') {
    record(
      hs.kind === 'timeout'
        ? fail('handshake', 'HANDSHAKE_TIMEOUT', `the TLS handshake did not finish within ${Math.round(timeoutMs / 1000)} s`, "read the server's log for the reason")
        : handshakeFailed(translateTlsError(hs.error), fixCtx),
    );
    return failed();
  }
  const password = env.PGPASSWORD !== undefined && env.PGPASSWORD !== '' ? env.PGPASSWORD : t.password;
  const outcome = await login({
    socket: hs.socket,
    user: t.user,
    database: t.database,
    password,
    applicationName: t.applicationName ?? 'pgmoat doctor',
    timeoutMs,
    earlyError: hs.lateError(),
  });
  if (outcome.kind === 'tls-error' && !outcome.replied) {
    record(handshakeFailed(translateTlsError(outcome.error), fixCtx));
    return failed();
  }
  if (outcome.kind === 'closed' && !outcome.replied) {
    record(handshakeFailed(SILENT_CLOSE, fixCtx));
    return failed();
  }
  if (outcome.kind === 'error-response' && !outcome.replied) {
    const refusal = certificateRefusal(outcome.fields);
    if (refusal) {
      record(handshakeFailed(refusal, fixCtx));
      return failed();
    }
  }
  const sent = material ? 'client certificate accepted' : 'no client certificate sent';
  record(ok('handshake', `${hs.protocol}${hs.cipher ? ` ${hs.cipher}` : ''}, ${sent}`));

  // Step 7: the PostgreSQL login.
  if (!record(loginResult(outcome, { user: t.user, database: t.database, timeoutMs, fix: fixCtx })) || outcome.kind !== 'ready') return failed();

  // Step 8: a query, the only proof that a gateway's pool reaches its upstream.
  const answer = await runQuery(hs.socket, timeoutMs);
  if (!record(queryResult(answer, { user: t.user, database: t.database, timeoutMs, fix: fixCtx })) || answer.kind !== 'rows') return failed();
  const how = material ? 'mutual TLS' : 'TLS';
  const where = `${t.host.includes(':') ? `[${t.host}]` : t.host}:${t.port}`;
  return { ok: true, steps, summary: `It works: "${t.user}" logs in to "${t.database}" at ${where} over ${how}, and ${DOCTOR_QUERY} returned.` };
}
