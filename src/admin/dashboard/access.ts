/**
 * Who is asking the dashboard: the verified client certificate of a mutual-TLS listener (the
 * console's rule, through DashboardSource.operatorRefusal) or a bearer token equal to the content
 * of admin.http.dashboard.token_file. The token is compared as SHA-256 digests with
 * timingSafeEqual (equal lengths whatever was sent) and never logged. The CSRF token is an HMAC of
 * the operator's name under a secret of this process.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { certificateFacts } from '../../tls/peer-identity.js';
import type { DashboardSource } from './types.js';

export type AccessVerdict =
  | { ok: true; operator: string }
  | { ok: false; status: 401 | 403; reason: string; cn?: string | undefined; serial?: string | undefined };

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

export class DashboardAccess {
  private readonly secret = randomBytes(32);
  private readonly tokenDigest: Buffer | undefined;

  constructor(token: string | undefined) {
    this.tokenDigest = token !== undefined && token !== '' ? digest(token) : undefined;
  }

  csrfFor(operator: string): string {
    return createHmac('sha256', this.secret).update(operator, 'utf8').digest('base64url');
  }

  csrfMatches(operator: string, sent: string | undefined): boolean {
    if (sent === undefined) return false;
    return timingSafeEqual(digest(this.csrfFor(operator)), digest(sent));
  }

  async decide(req: IncomingMessage, source: DashboardSource): Promise<AccessVerdict> {
    const auth = req.headers.authorization;
    if (auth !== undefined) {
      const m = /^Bearer ([\x21-\x7e]+)$/.exec(auth);
      if (!this.tokenDigest) return { ok: false, status: 403, reason: 'bearer tokens are not accepted (no admin.http.dashboard.token_file)' };
      if (m && timingSafeEqual(digest(m[1]!), this.tokenDigest)) return { ok: true, operator: 'token' };
      return { ok: false, status: 403, reason: 'wrong bearer token' };
    }
    const socket = req.socket as TLSSocket;
    // Only a chain the listener verified (admin.http.tls.ca) names anybody.
    const facts = socket.encrypted && socket.authorized ? certificateFacts(socket.getPeerCertificate(false)) : undefined;
    const id = facts?.identity;
    if (!id) return { ok: false, status: 401, reason: 'no client certificate and no bearer token' };
    const refused = await source.operatorRefusal({ cn: id.cn, serial: id.serial, notAfter: id.notAfter.getTime() });
    if (refused !== undefined) return { ok: false, status: 403, reason: refused, cn: id.cn, serial: id.serial };
    return { ok: true, operator: id.cn ?? id.serial };
  }
}
