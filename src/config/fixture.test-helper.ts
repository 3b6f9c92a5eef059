/** Test-only: a temp directory holding the files a config refers to, and a way to collect problems. */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { ConfigInvalidError, parseConfig, type LoadedConfig } from './load.js';

export interface Fixture {
  dir: string;
  file(name: string, content?: string, mode?: number): string;
  parse(yaml: string, env?: Record<string, string | undefined>): LoadedConfig;
  /** The problem lines of a config that must not validate. */
  problems(yaml: string, env?: Record<string, string | undefined>): string[];
  cleanup(): void;
}

export function makeFixture(): Fixture {
  const dir = mkdtempSync(join(tmpdir(), 'pgmoat-config-'));
  const fixture: Fixture = {
    dir,
    file(name, content = 'x\n', mode = 0o600) {
      const path = join(dir, name);
      writeFileSync(path, content);
      chmodSync(path, mode);
      return path;
    },
    parse(yaml, env = {}) {
      return parseConfig(yaml, { path: 'pgmoat.yaml', dir, env });
    },
    problems(yaml, env = {}) {
      try {
        fixture.parse(yaml, env);
      } catch (err) {
        assert.ok(err instanceof ConfigInvalidError, `expected ConfigInvalidError, got ${String(err)}`);
        assert.equal(err.code, 'CONFIG_INVALID');
        assert.equal(err.message, err.problems.join('\n'));
        return [...err.problems];
      }
      assert.fail('expected the config to be refused');
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
  for (const name of ['server.crt', 'ca.crt', 'crl.pem', 'upstream-ca.crt', 'client.crt']) fixture.file(name, 'PEM\n', 0o644);
  for (const name of ['server.key', 'client.key', 'app.password', 'key.pass']) fixture.file(name, 'secret\n', 0o600);
  return fixture;
}

/** The smallest valid config over the fixture's files. */
export const MINIMAL = `
tls: { cert: server.crt, key: server.key, ca: ca.crt }
databases:
  app: { host: 127.0.0.1 }
`;
