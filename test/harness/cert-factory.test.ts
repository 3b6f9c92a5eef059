import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { makePki } from './cert-factory.js';

function verify(ca: string, cert: string, crl?: string, extra: string[] = []): string {
  const args = ['verify', ...extra, '-CAfile', ca, ...(crl ? ['-crl_check', '-CRLfile', crl] : []), cert];
  try {
    return execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return `${e.stdout ?? ''}${e.stderr ?? ''}`;
  }
}

test('makePki: two CAs, a server cert, and every kind of client', async () => {
  const pki = await makePki();
  try {
    assert.match(verify(pki.main.caPath, pki.server.certPath), /: OK/);
    const server = new X509Certificate(pki.server.certPem);
    assert.match(server.subjectAltName ?? '', /DNS:localhost/);
    assert.match(server.subjectAltName ?? '', /IP Address:127\.0\.0\.1/);
    assert.equal(statSync(pki.server.keyPath).mode & 0o777, 0o600);

    const good = await pki.client('alice');
    assert.equal(statSync(good.keyPath).mode & 0o777, 0o600);
    assert.match(verify(good.caPath, good.certPath, pki.crlPath), /: OK/);
    assert.equal(new X509Certificate(good.certPem).serialNumber.toLowerCase(), good.serial);

    const foreign = await pki.client('alice', { ca: 'foreign' });
    assert.match(verify(pki.main.caPath, foreign.certPath), /unable to get local issuer certificate/);
    assert.match(verify(foreign.issuerCaPath, foreign.certPath), /: OK/);

    const expired = await pki.client('old', { expired: true });
    assert.match(verify(pki.main.caPath, expired.certPath), /certificate has expired/);

    const serverOnly = await pki.client('svc', { serverAuthOnly: true });
    assert.match(verify(pki.main.caPath, serverOnly.certPath, undefined, ['-purpose', 'sslclient']), /unsuitable certificate purpose/);
    assert.match(verify(pki.main.caPath, good.certPath, undefined, ['-purpose', 'sslclient']), /: OK/);

    const revoked = await pki.client('mallory', { revoked: true });
    assert.match(verify(pki.main.caPath, revoked.certPath, pki.crlPath), /certificate revoked/);

    assert.match(verify(good.caPath, good.certPath, pki.crlPath), /: OK/);
    await pki.revoke('alice');
    assert.match(verify(good.caPath, good.certPath, pki.crlPath), /certificate revoked/);
    assert.match(pki.crlPem(), /-----BEGIN X509 CRL-----/);
  } finally {
    pki.cleanup();
  }
});
