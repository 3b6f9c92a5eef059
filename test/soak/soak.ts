/**
 * One soak run: a real PostgreSQL, a PKI made with the pgmoat CLI, and `pgmoat serve` as its own
 * process in transaction mode. For the duration, together: pgbench through the gateway over
 * mutual TLS, SIGHUP reloads, revocations of throwaway certificates, renewals and refused
 * handshakes, while the gateway's memory, descriptors and pools are sampled.
 */
import { execFile, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify } from 'yaml';
import { startPostgres, type PgServer } from '../harness/postgres.js';
import { startGatewayProcess, type GatewayLauncher } from '../harness/gateway.js';
import { freePort } from '../harness/free-port.js';
import { pgTool } from '../harness/pg-binaries.js';
import { ENVIRONMENT, SoakPki, pemOf, serialOf, type CertFiles } from './pki.js';
import { expectRefused, openSession, rawProbe, sessionEnds, type Target } from './probes.js';
import { openFds, residentBytes, scrapeGateway } from './stats.js';
import { buildReport, type Activity, type Sample, type SoakReport, type Thresholds } from './report.js';

export interface SoakOptions {
  minutes: number;
  /** pgbench clients (-c) and its rate limit in transactions per second (-R; 0: none). */
  clients: number;
  rate: number;
  reloadEverySeconds: number;
  revokeEverySeconds: number;
  renewEverySeconds: number;
  refuseEverySeconds: number;
  sampleEverySeconds: number;
  launcher: GatewayLauncher;
  thresholds: Thresholds;
  /** Progress lines (to stderr by the CLI). */
  say: (line: string) => void;
}

const ADMIN = 'soak-admin';

function gatewayConfig(ports: { gateway: number; http: number }, caDir: string, upstream: PgServer, checkDelay: string): Record<string, unknown> {
  return {
    listen: { host: '127.0.0.1', port: ports.gateway },
    pool_mode: 'transaction',
    default_pool_size: 8,
    max_client_conn: 400,
    // Toggled by every reload, so that each SIGHUP applies a changed configuration.
    server_check_delay: checkDelay,
    log: { level: 'info' },
    tls: { mode: 'verify-full', cert: join(caDir, 'server.crt'), key: join(caDir, 'server.key'), ca: join(caDir, 'ca.crt'), crl: join(caDir, 'crl.pem') },
    admin: { identities: [ADMIN], http: { host: '127.0.0.1', port: ports.http } },
    // pgbench's `app` and the throwaway soak-* identities all log in as role app.
    ident_maps: { soak: [{ cn: 'app', role: 'app' }, { cn: '/^soak-/', role: 'app' }] },
    rules: [{ type: 'tls', method: 'cert', map: 'soak' }],
    databases: { appdb: { host: '127.0.0.1', port: upstream.port, dbname: 'appdb', environment: ENVIRONMENT, tls: { mode: 'disable' } } },
  };
}

interface PgbenchResult {
  code: number | null;
  out: string;
}

function runPgbench(args: string[], env: NodeJS.ProcessEnv): { proc: ChildProcess; done: Promise<PgbenchResult> } {
  let out = '';
  const proc = execFile(pgTool('pgbench'), args, { env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 64 << 20 });
  proc.stdout!.on('data', (d: string) => (out += d));
  proc.stderr!.on('data', (d: string) => (out += d));
  const done = new Promise<PgbenchResult>((resolve) => proc.on('close', (code) => resolve({ code, out })));
  return { proc, done };
}

/** Runs `body` every `everySeconds` until `stop()` says so; a failed round is recorded, not fatal. */
async function every(everySeconds: number, stopped: () => boolean, body: () => Promise<void>, problems: string[], what: string): Promise<void> {
  while (!stopped()) {
    const started = Date.now();
    try {
      await body();
    } catch (err) {
      problems.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
    }
    const wait = everySeconds * 1000 - (Date.now() - started);
    for (let left = wait; left > 0 && !stopped(); left -= 200) await sleep(Math.min(200, left));
  }
}

export async function runSoak(o: SoakOptions): Promise<SoakReport> {
  const work = mkdtempSync(join(tmpdir(), 'pgmoat-soak-'));
  const problems: string[] = [];
  let upstream: PgServer | undefined;
  let gateway: Awaited<ReturnType<typeof startGatewayProcess>> | undefined;
  try {
    o.say(`soak: work dir ${work}`);
    upstream = await startPostgres({ setupSql: 'CREATE ROLE app LOGIN; CREATE DATABASE appdb OWNER app;', settings: { max_connections: 100 } });
    execFileSync(pgTool('pgbench'), ['-i', '-s', '1', '-q', '-h', '127.0.0.1', '-p', String(upstream.port), '-U', 'app', 'appdb'], { stdio: 'ignore' });

    const pki = await SoakPki.init(join(work, 'ca'), join(work, 'clients'), 'pgmoat soak CA');
    const foreignPki = await SoakPki.init(join(work, 'foreign-ca'), join(work, 'foreign-clients'), 'foreign soak CA');
    const app = await pki.issue('app');
    const admin = await pki.issue(ADMIN);
    let renewed = await pki.issue('soak-renew');
    const foreign = await foreignPki.issue('app');

    const ports = { gateway: await freePort(), http: await freePort() };
    const configPath = join(work, 'pgmoat.yaml');
    let checkDelay = '30s';
    const writeConfig = (): void => writeFileSync(configPath, stringify(gatewayConfig(ports, pki.caDir, upstream!, checkDelay)));
    writeConfig();
    gateway = await startGatewayProcess(configPath, o.launcher);
    const pid = gateway.proc.pid!;
    const proc = gateway.proc;
    const target: Target = { port: ports.gateway, gatewayCa: readFileSync(pki.caPath, 'utf8') };
    const pem = (f: CertFiles) => pemOf(f, pki.caPath);
    o.say(`soak: pgmoat serve pid ${pid} on port ${ports.gateway}, metrics on ${ports.http}`);

    const seconds = Math.max(10, Math.round(o.minutes * 60));
    const warmupSeconds = Math.min(60, Math.max(2, Math.round(seconds * 0.2)));
    const bench = runPgbench(
      ['-c', String(o.clients), '-j', '1', '-T', String(seconds), '-P', '5', ...(o.rate > 0 ? ['-R', String(o.rate)] : []), '-h', '127.0.0.1', '-p', String(ports.gateway), '-U', 'app', 'appdb'],
      { PGSSLMODE: 'verify-full', PGSSLCERT: app.cert, PGSSLKEY: app.key, PGSSLROOTCERT: pki.caPath, PGCONNECT_TIMEOUT: '10' },
    );
    const t0 = Date.now();
    const elapsed = (): number => (Date.now() - t0) / 1000;
    let stop = false;
    let benchDone = false;
    void bench.done.then(() => (benchDone = true));
    const stopped = (): boolean => stop || benchDone || proc.exitCode !== null || proc.signalCode !== null;
    let crashed: string | undefined;
    let stuckPool: string | undefined;
    const count = { reloads: 0, revocations: 0, renewals: 0, refused: 0 };

    const reloads = every(o.reloadEverySeconds, stopped, async () => {
      checkDelay = checkDelay === '30s' ? '31s' : '30s';
      writeConfig();
      process.kill(pid, 'SIGHUP');
      count.reloads++;
    }, problems, 'reload');

    let tmp = 0;
    let lastRevoked: CertFiles | undefined;
    const revocations = every(o.revokeEverySeconds, stopped, async () => {
      const f = await pki.issue(`soak-tmp-${++tmp}`);
      const session = await openSession(target, pem(f));
      await pki.revoke(serialOf(f.cert));
      count.revocations++;
      const ended = await sessionEnds(session, 15_000);
      await session.end().catch(() => undefined);
      if (!ended) problems.push(`revocation: the session of ${f.name} was still open 15 s after pgmoat revoke`);
      const refusal = await expectRefused(target, pem(f));
      if (!/revoked/i.test(refusal)) problems.push(`revocation: ${f.name} reconnecting was refused, but not as revoked: ${refusal}`);
      lastRevoked = f;
    }, problems, 'revocation');

    const renewals = every(o.renewEverySeconds, stopped, async () => {
      const old = pem(renewed);
      renewed = await pki.renew('soak-renew');
      count.renewals++;
      const s = await openSession(target, pem(renewed));
      await s.end();
      // The old certificate was revoked by --revoke-old: refused once the gateway read the new CRL.
      const until = Date.now() + 10_000;
      for (;;) {
        try {
          await expectRefused(target, old);
          break;
        } catch (err) {
          if (Date.now() > until) throw new Error(`the certificate replaced by pgmoat renew --revoke-old still logs in 10 s later (${String(err)})`);
          await sleep(250);
        }
      }
    }, problems, 'renewal');

    const kinds = ['foreign-ca', 'no-certificate', 'garbage', 'plaintext-after-sslrequest', 'half-open', 'revoked'] as const;
    let k = 0;
    const refusals = every(o.refuseEverySeconds, stopped, async () => {
      const kind = kinds[k++ % kinds.length]!;
      switch (kind) {
        case 'foreign-ca':
          await expectRefused(target, pemOf(foreign, pki.caPath));
          break;
        case 'no-certificate':
          await expectRefused(target, undefined);
          break;
        case 'revoked':
          if (lastRevoked) await expectRefused(target, pem(lastRevoked));
          break;
        default:
          await rawProbe(target, kind);
      }
      count.refused++;
    }, problems, 'refused handshake');

    const samples: Sample[] = [];
    let lastProgress = { t: 0, transactions: -1 };
    const sampler = (async () => {
      while (!stopped()) {
        const rss = residentBytes(pid);
        const fds = openFds(pid);
        const m = await scrapeGateway(ports.http);
        if (rss !== undefined && fds !== undefined && m) {
          const s: Sample = { t: elapsed(), rssBytes: rss, fds, ...m };
          samples.push(s);
          // Stuck: a client has waited for a server for long, or clients wait and nothing completes.
          if (m.maxWaitSeconds > o.thresholds.stuckSeconds) {
            stuckPool ??= `a client waited ${m.maxWaitSeconds.toFixed(1)} s for a server at t=${s.t.toFixed(0)} s (${m.waiting} waiting)`;
          }
          if (m.waiting === 0 || m.transactions !== lastProgress.transactions) lastProgress = { t: s.t, transactions: m.transactions };
          else if (s.t - lastProgress.t > o.thresholds.stuckSeconds) {
            stuckPool ??= `${m.waiting} clients waiting and no transaction completed from t=${lastProgress.t.toFixed(0)} s to t=${s.t.toFixed(0)} s`;
          }
        }
        for (let left = o.sampleEverySeconds * 1000; left > 0 && !stopped(); left -= 200) await sleep(Math.min(200, left));
      }
    })();

    const result = await bench.done;
    stop = true;
    await Promise.all([reloads, revocations, renewals, refusals, sampler]);
    if (proc.exitCode !== null || proc.signalCode !== null) {
      crashed = `pgmoat serve exited (code ${proc.exitCode}, signal ${proc.signalCode}) during the soak; last output:\n${gateway.output().slice(-2000)}`;
    }

    // After the load: every pool must drain (no client left waiting or active).
    if (!crashed) {
      const admin_ = await openSession(target, pem(admin), ADMIN, 'pgmoat').catch((err: unknown) => {
        problems.push(`admin console: ${String(err)}`);
        return undefined;
      });
      if (admin_) {
        const until = Date.now() + 15_000;
        let rows: Record<string, string>[] = [];
        for (;;) {
          rows = (await admin_.query('SHOW POOLS')).rows as Record<string, string>[];
          const busy = rows.filter((r) => Number(r.cl_waiting) > 0 || Number(r.cl_active) > 0 || Number(r.sv_active) > 0);
          if (busy.length === 0) break;
          if (Date.now() > until) {
            stuckPool ??= `15 s after the load ended SHOW POOLS still has busy pools: ${JSON.stringify(busy)}`;
            break;
          }
          await sleep(500);
        }
        await admin_.end().catch(() => undefined);
      }
    }

    const final = await scrapeGateway(ports.http);
    const processed = /number of transactions actually processed: (\d+)/.exec(result.out);
    const failed = /number of failed transactions: (\d+)/.exec(result.out);
    const activity: Activity = {
      transactions: processed ? Number(processed[1]) : 0,
      failedTransactions: failed ? Number(failed[1]) : 0,
      abortedClients: (result.out.match(/client \d+ aborted/g) ?? []).length,
      pgbenchExit: result.code,
      reloads: final?.reloadsOk ?? count.reloads,
      reloadsRefused: final?.reloadsRefused ?? 0,
      revocations: count.revocations,
      revocationsEnforced: final?.revocationsEnforced ?? 0,
      renewals: count.renewals,
      refusedHandshakes: count.refused,
      problems,
    };
    if (!crashed && (final?.reloadsOk ?? 0) < count.reloads) {
      problems.push(`${count.reloads} SIGHUPs sent, ${final?.reloadsOk ?? 0} reloads applied`);
    }
    if (!crashed) {
      const code = await gateway.stop('SIGTERM');
      if (code !== 0) crashed = `pgmoat serve exited with ${code} on SIGTERM; last output:\n${gateway.output().slice(-2000)}`;
    }
    gateway = undefined;
    return buildReport({ minutes: o.minutes, warmupSeconds, samples, activity, crashed, stuckPool, thresholds: o.thresholds });
  } finally {
    if (gateway) await gateway.stop('SIGKILL');
    await upstream?.stop();
    rmSync(work, { recursive: true, force: true });
  }
}
