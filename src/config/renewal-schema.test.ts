import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { makeFixture, MINIMAL } from './fixture.test-helper.js';

const fx = makeFixture();
mkdirSync(join(fx.dir, 'ca'));
after(() => fx.cleanup());

describe('renewal:', () => {
  it('is off by default', () => {
    assert.equal(fx.parse(MINIMAL).config.renewal, undefined);
  });

  it('fills its defaults and resolves the CA directory', () => {
    const r = fx.parse(`${MINIMAL}\nrenewal: { ca_dir: ca }\n`).config.renewal!;
    assert.equal(r.ca_dir, join(fx.dir, 'ca'));
    assert.equal(r.host, '127.0.0.1');
    assert.equal(r.port, 8443);
    assert.equal(r.expired_grace, 0);
    assert.deepEqual(r.rate_limit, { max: 20, window: 3_600_000 });
    assert.equal(r.tls, undefined);
  });

  it('takes durations, the passphrase from a file or a variable, and its own certificate', () => {
    const r = fx.parse(
      `${MINIMAL}\nrenewal: { ca_dir: ca, expired_grace: 1d, rate_limit: { max: 3, window: 10m }, ca_passphrase_env: CA_PASS, tls: { cert: server.crt, key: server.key } }\n`,
      { CA_PASS: 'x' },
    ).config.renewal!;
    assert.equal(r.expired_grace, 86_400_000);
    assert.deepEqual(r.rate_limit, { max: 3, window: 600_000 });
    assert.equal(r.ca_passphrase_env, 'CA_PASS');
    assert.equal(r.tls?.cert, join(fx.dir, 'server.crt'));
  });

  it('refuses a missing CA directory, both passphrase sources, a loose passphrase file and unknown keys', () => {
    const problems = fx.problems(`${MINIMAL}\nrenewal: { ca_dir: nowhere }\n`);
    assert.ok(problems.some((p) => p.includes('directory not found')), problems.join('\n'));
    fx.file('loose.pass', 'x\n', 0o644);
    const loose = fx.problems(`${MINIMAL}\nrenewal: { ca_dir: ca, ca_passphrase_file: loose.pass }\n`);
    assert.ok(loose.some((p) => p.includes('readable by group or others')), loose.join('\n'));
    const both = fx.problems(`${MINIMAL}\nrenewal: { ca_dir: ca, ca_passphrase_file: key.pass, ca_passphrase_env: CA_PASS }\n`, { CA_PASS: 'x' });
    assert.ok(both.some((p) => p.includes('mutually exclusive')), both.join('\n'));
    const unknown = fx.problems(`${MINIMAL}\nrenewal: { ca_dir: ca, grace: 1d }\n`);
    assert.ok(unknown.some((p) => p.includes('grace')), unknown.join('\n'));
  });
});
