/** HTTPS requests to the dashboard with a client certificate (or none), for the dashboard tests. */
import { request } from 'node:https';
import type { ClientFiles } from '../harness/cert-factory.js';

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json: unknown;
}

export interface CallOptions {
  client?: ClientFiles | undefined;
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

export function call(port: number, caPem: string, path: string, o: CallOptions = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: o.method ?? 'GET',
        ca: caPem,
        servername: 'localhost',
        ...(o.client ? { cert: o.client.certPem, key: o.client.keyPem } : {}),
        headers: { ...(o.body !== undefined ? { 'content-length': String(Buffer.byteLength(o.body)) } : {}), ...o.headers },
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = JSON.parse(body);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json });
        });
      },
    );
    req.on('error', reject);
    if (o.body !== undefined) req.write(o.body);
    req.end();
  });
}

/** An action as the page posts it: JSON, with the operator's CSRF token read from /dashboard/api/session first. */
export async function postAction(port: number, caPem: string, client: ClientFiles, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const csrf = ((await call(port, caPem, '/dashboard/api/session', { client })).json as { csrf: string }).csrf;
  return call(port, caPem, path, { client, method: 'POST', body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json', 'x-csrf-token': csrf, ...headers } });
}
