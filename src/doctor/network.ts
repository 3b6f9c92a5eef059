/** Steps 1-3: the host name, the TCP connection, and the server's answer to SSLRequest. */
import type { LookupAddress } from 'node:dns';
import { lookup } from 'node:dns/promises';
import { connect, isIP, type Socket } from 'node:net';
import { requestSsl } from '../upstream/ssl-request.js';
import { assertNever } from '../util/errors.js';
import { fail, ok, type StepResult } from './types.js';

export interface StepOutcome<T> {
  result: StepResult;
  /** Present when the step did not fail. */
  value: T | undefined;
}

function passed<T>(result: StepResult, value: T): StepOutcome<T> {
  return { result, value };
}

function failed<T>(result: StepResult): StepOutcome<T> {
  return { result, value: undefined };
}

/** getaddrinfo has no timeout of its own; the lookup goes on in its thread, but the doctor does not wait for it. */
function lookupWithin(host: string, timeoutMs: number): Promise<LookupAddress[]> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error('timeout'), { code: 'ETIMEOUT' })), timeoutMs);
  });
  return Promise.race([lookup(host, { all: true }), timeout]).finally(() => clearTimeout(timer));
}

export async function resolveHost(host: string, timeoutMs: number): Promise<StepOutcome<LookupAddress[]>> {
  if (isIP(host) !== 0) return passed(ok('resolve', `${host} is an IP address`), [{ address: host, family: isIP(host) }]);
  try {
    const addresses = await lookupWithin(host, timeoutMs);
    if (addresses.length === 0) throw Object.assign(new Error('no address'), { code: 'ENOTFOUND' });
    return passed(ok('resolve', `${host} -> ${addresses.map((a) => a.address).join(', ')}`), addresses);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    if (code === 'ENOTFOUND' || code === 'ENODATA') {
      return failed(fail('resolve', 'HOST_NOT_FOUND', `${host} does not resolve to any address (${code})`, `check the host name in the URI (a typo, or a DNS name that only exists in another network?)`));
    }
    if (code === 'ETIMEOUT') {
      return failed(fail('resolve', 'DNS_TIMEOUT', `looking up ${host} gave no answer within ${Math.round(timeoutMs / 1000)} s`, "check this machine's DNS settings (/etc/resolv.conf) and network"));
    }
    return failed(fail('resolve', 'DNS_ERROR', `looking up ${host} failed: ${code}`, 'check this machine\'s DNS settings (/etc/resolv.conf) and network'));
  }
}

function connectOnce(address: string, port: number, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: address, port, noDelay: true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' }));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      socket.destroy();
      reject(err);
    });
  });
}

function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** Tries each address in turn, as libpq does with a name that has several. */
export async function connectTcp(addresses: readonly LookupAddress[], port: number, timeoutMs: number): Promise<StepOutcome<Socket>> {
  const errors: string[] = [];
  let lastCode = '';
  for (const a of addresses) {
    try {
      const socket = await connectOnce(a.address, port, timeoutMs);
      const skipped = errors.length > 0 ? ` (after ${errors.join(', ')})` : '';
      return passed(ok('tcp', `connected to ${hostPort(a.address, port)}${skipped}`), socket);
    } catch (err) {
      lastCode = (err as NodeJS.ErrnoException).code ?? 'error';
      errors.push(`${hostPort(a.address, port)}: ${lastCode}`);
    }
  }
  const where = errors.join(', ');
  switch (lastCode) {
    case 'ECONNREFUSED':
      return failed(fail('tcp', 'CONNECTION_REFUSED', `connection refused (${where}): nothing listens on port ${port} there`, `check the port in the URI and that the gateway (or PostgreSQL) is running and listening on that address`));
    case 'ETIMEDOUT':
      return failed(fail('tcp', 'CONNECT_TIMEOUT', `no answer within ${Math.round(timeoutMs / 1000)} s (${where})`, `open port ${port} to this machine in the firewall or security group in front of the server`));
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return failed(fail('tcp', 'UNREACHABLE', `no route to the server (${where})`, 'check the network path (VPN, routes) between this machine and the server'));
    default:
      return failed(fail('tcp', 'CONNECT_FAILED', `could not connect (${where})`, 'check the host and port in the URI and the network between this machine and the server'));
  }
}

/** Sends SSLRequest and reads the one-byte answer. On 'S' the socket is ready for the TLS handshake. */
export async function sslRequest(socket: Socket, timeoutMs: number): Promise<StepOutcome<Socket>> {
  const answer = await requestSsl(socket, AbortSignal.timeout(timeoutMs));
  switch (answer.kind) {
    case 'tls':
      return passed(ok('ssl-request', "the server answered 'S': it offers TLS"), socket);
    case 'injected':
      return failed(fail('ssl-request', 'PLAINTEXT_AFTER_S', `the server answered 'S' followed by ${answer.extraBytes} unencrypted bytes: someone between you and the server may be injecting data`, 'check what sits between this machine and the server (a proxy or an attacker)'));
    case 'plain':
      socket.destroy();
      return failed(fail('ssl-request', 'NO_TLS', "the server answered 'N': server does not offer TLS", 'turn TLS on at the server (ssl = on in postgresql.conf), or connect to the pgmoat gateway\'s port instead of PostgreSQL\'s'));
    case 'error-response':
      return failed(fail('ssl-request', 'NOT_POSTGRES', 'the server answered the SSLRequest with an error: it is not a PostgreSQL server that supports TLS (or a very old one)', 'check the port in the URI: it should be the pgmoat gateway\'s'));
    case 'foreign':
      return failed(fail('ssl-request', 'NOT_POSTGRES', `the server answered something that is not PostgreSQL's 'S' or 'N' (first bytes ${answer.firstBytes})`, 'check the port in the URI: another kind of server listens there'));
    case 'socket-error':
      return failed(fail('ssl-request', 'CONNECTION_RESET', `the connection failed before the server answered the SSLRequest (${answer.error.code ?? answer.error.message})`, 'check the port in the URI: it should be the pgmoat gateway\'s'));
    case 'closed':
      return failed(fail('ssl-request', 'CLOSED_AFTER_SSLREQUEST', 'the server closed the connection without answering the SSLRequest', 'check the port in the URI: it should be the pgmoat gateway\'s, and the server may be refusing this address'));
    case 'aborted':
      return failed(fail('ssl-request', 'SSLREQUEST_TIMEOUT', `no answer to the SSLRequest within ${Math.round(timeoutMs / 1000)} s`, 'check the port in the URI: whatever listens there does not speak PostgreSQL\'s protocol'));
    default:
      return assertNever(answer, 'SSLRequest answer');
  }
}
