/**
 * The access configuration as the gateway runs it: rules compiled (from `rules:`, `hba_file:`
 * or the default), identity maps merged, client secrets read and derived, the mock key for
 * unknown roles. Built with the rest of the RuntimeConfig, so a reload either yields all of it
 * or keeps the running one.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { Config } from '../config/schema.js';
import { PgmoatError, isPgmoatError } from '../util/errors.js';
import { readPrivateFile } from '../util/private-file.js';
import { compileRules, defaultRule, passwordMethodOf, rulesFromHba, type AccessMethod, type AccessRule } from '../auth/rules.js';
import { parseHbaFile } from '../auth/hba-file.js';
import { mapUsesSans, parseIdentFile, type IdentMaps } from '../auth/ident-map.js';
import { assertNoGroupEntries, identMapsFromConfig, mergeIdentMaps } from '../auth/ident-config.js';
import { parseUserlist } from '../auth/userlist.js';
import { deriveUserlist, type ClientSecret } from '../auth/client-secrets.js';
import { readTextFile } from '../util/file-problem.js';

export type RulesSource = 'rules' | 'hba_file' | 'default';

export interface AccessRuntime {
  readonly rules: readonly AccessRule[];
  readonly source: RulesSource;
  /** Where the rules come from, for messages: "rules: in pgmoat.yaml", "hba_file /etc/pg_hba.conf". */
  readonly sourceLabel: string;
  readonly identMaps: IdentMaps;
  /** From auth_file, derived once; empty without one. */
  readonly userlist: ReadonlyMap<string, ClientSecret>;
  /** Key of the mock SCRAM exchange (and of the salts derived for cleartext entries). */
  readonly mockKey: Buffer;
  /** The cleartext of auth_user's own userlist entry, for logging in upstream to run auth_query. */
  readonly authUserPassword: string | undefined;
  /**
   * Whether a rule (`san:`) or an identity map (`uri:`/`dns:` entries) matches on SANs: only
   * then does the handshake accept a certificate without CN (tls/client-tls.ts).
   */
  readonly sanIdentities: boolean;
}

function configError(message: string): PgmoatError {
  return new PgmoatError('CONFIG_INVALID', message);
}


/**
 * Stable across restarts and across gateways sharing a key, and not the key itself: an HMAC of
 * the gateway's TLS private key. Without client TLS there is no key: a random one per start
 * (unknown roles then get new salts after a restart; documented).
 */
function mockKeyFrom(tlsKeyPem: string | undefined): Buffer {
  if (tlsKeyPem === undefined) return randomBytes(32);
  return createHmac('sha256', 'pgmoat scram mock key').update(tlsKeyPem).digest();
}

function defaultMethod(config: Config): AccessMethod {
  if (config.tls.mode === 'verify-full') return 'cert';
  if (config.auth_file !== undefined || config.auth_user !== undefined) return 'scram-sha-256';
  return 'trust';
}

/** What the schema cannot see: rules from a file, and maps defined in ident_file. */
function checkRules(rules: readonly AccessRule[], config: Config, maps: IdentMaps): void {
  const certsAsked = config.tls.mode === 'verify-ca' || config.tls.mode === 'verify-full';
  const secrets = config.auth_file !== undefined || config.auth_user !== undefined;
  for (const r of rules) {
    if (r.map !== undefined && !maps.has(r.map)) throw configError(`${r.label}: no identity map "${r.map}" in ident_maps or ident_file`);
    if (r.certificateRequired && !certsAsked) {
      throw configError(`${r.label}: needs a client certificate, which tls.mode ${config.tls.mode} does not ask for (use verify-ca or verify-full)`);
    }
    if (passwordMethodOf(r.method) !== undefined && !secrets) {
      throw configError(`${r.label}: method ${r.method} needs client secrets: set auth_file (a PgBouncer userlist.txt) or auth_user (auth_query)`);
    }
  }
}

export async function buildAccessRuntime(config: Config, configPath: string, tlsKeyPem: string | undefined): Promise<AccessRuntime> {
  const mockKey = mockKeyFrom(tlsKeyPem);
  try {
    let fileMaps: IdentMaps | undefined;
    if (config.ident_file !== undefined) {
      fileMaps = parseIdentFile(readTextFile(config.ident_file, 'ident_file'), { fileName: config.ident_file });
      assertNoGroupEntries(fileMaps, config.ident_file);
    }
    const identMaps = mergeIdentMaps(identMapsFromConfig(config.ident_maps), fileMaps, config.ident_file ?? 'ident_file');

    let rules: AccessRule[];
    let source: RulesSource;
    let sourceLabel: string;
    if (config.rules !== undefined) {
      rules = compileRules(config.rules);
      source = 'rules';
      sourceLabel = `rules: in ${configPath}`;
    } else if (config.hba_file !== undefined) {
      rules = rulesFromHba(parseHbaFile(readTextFile(config.hba_file, 'hba_file'), { fileName: config.hba_file }), config.hba_file);
      source = 'hba_file';
      sourceLabel = `hba_file ${config.hba_file}`;
    } else {
      rules = [defaultRule(defaultMethod(config))];
      source = 'default';
      sourceLabel = `the default rule (no rules: in ${configPath})`;
    }
    checkRules(rules, config, identMaps);

    let userlist = new Map<string, ClientSecret>();
    let authUserPassword: string | undefined;
    if (config.auth_file !== undefined) {
      const text = readPrivateFile(config.auth_file, 'auth_file').toString('utf8');
      const parsed = parseUserlist(text, { fileName: config.auth_file });
      const own = config.auth_user === undefined ? undefined : parsed.get(config.auth_user);
      if (own?.kind === 'plain') authUserPassword = own.value;
      userlist = await deriveUserlist(parsed, mockKey);
    }
    const sanIdentities = rules.some((r) => r.san !== undefined) || [...identMaps.values()].some(mapUsesSans);
    return { rules, source, sourceLabel, identMaps, userlist, mockKey, authUserPassword, sanIdentities };
  } catch (err) {
    if (isPgmoatError(err) && err.code !== 'CONFIG_INVALID' && err.code !== 'FILE_UNREADABLE') {
      throw new PgmoatError('CONFIG_INVALID', err.message, { cause: err });
    }
    throw err;
  }
}
