/**
 * client_tls_* become pgmoat's `tls:` (clients -> pgmoat); server_tls_* become the `tls:` of
 * every database (pgmoat -> PostgreSQL), since pgmoat sets upstream TLS per database.
 *
 * Two differences in meaning are handled here: PgBouncer's client-side verify-full is its
 * verify-ca (no name to check), while pgmoat's verify-full also requires the certificate CN to
 * equal the role, which is exactly PgBouncer's auth_type = cert; and pgmoat supports TLS 1.2
 * and 1.3 only.
 */
import { createSecureContext } from 'node:tls';
import { carryPath, type Ctx } from './context.js';
import type { IniSetting } from './ini-files.js';
import { parseList } from './values.js';

export const CLIENT_TLS_SETTINGS: readonly string[] = [
  'client_tls_sslmode',
  'client_tls_key_file',
  'client_tls_cert_file',
  'client_tls_ca_file',
  'client_tls_protocols',
  'client_tls_ciphers',
  'client_tls13_ciphers',
  'client_tls_ecdhcurve',
  'client_tls_dheparams',
];

export const SERVER_TLS_SETTINGS: readonly string[] = [
  'server_tls_sslmode',
  'server_tls_ca_file',
  'server_tls_key_file',
  'server_tls_cert_file',
  'server_tls_protocols',
  'server_tls_ciphers',
  'server_tls13_ciphers',
];

const MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const;
type Mode = (typeof MODES)[number];

/** libusual's names for cipher lists; the strong ones are left to Node's default list. */
const MODERN_CIPHER_SHORTCUTS = ['fast', 'normal', 'default', 'secure'];
const LEGACY_CIPHER_SHORTCUTS = ['compat', 'legacy', 'insecure', 'all'];

type Version = '1.0' | '1.1' | '1.2' | '1.3';
const ALL_VERSIONS: readonly Version[] = ['1.0', '1.1', '1.2', '1.3'];
const PROTOCOL_WORDS: Readonly<Record<string, readonly Version[]>> = {
  all: ALL_VERSIONS,
  legacy: ALL_VERSIONS,
  secure: ['1.2', '1.3'],
  default: ['1.2', '1.3'],
  'tlsv1.0': ['1.0'],
  'tlsv1.1': ['1.1'],
  'tlsv1.2': ['1.2'],
  'tlsv1.3': ['1.3'],
};

interface VersionRange {
  min?: 'TLSv1.3';
  max?: 'TLSv1.2';
}

/** `secure`, `tlsv1.2,tlsv1.3`, `all,!tlsv1.0` (libtls' syntax) -> pgmoat's min/max, or a reason. */
function protocolRange(ctx: Ctx, s: IniSetting, side: 'client' | 'server'): VersionRange | undefined {
  const chosen = new Set<Version>();
  for (const raw of parseList(s.value)) {
    const negate = raw.startsWith('!');
    const word = (negate ? raw.slice(1) : raw).toLowerCase();
    const versions = PROTOCOL_WORDS[word];
    if (!versions) {
      ctx.report.notCarried(s.origin, s.key, `unknown protocol "${raw}" (expected tlsv1.0 to tlsv1.3, all, secure or legacy)`);
      return undefined;
    }
    for (const v of versions) {
      if (negate) chosen.delete(v);
      else chosen.add(v);
    }
  }
  const supported = ALL_VERSIONS.filter((v) => chosen.has(v) && (v === '1.2' || v === '1.3'));
  if (supported.length === 0) {
    ctx.report.notCarried(s.origin, s.key, "pgmoat speaks TLS 1.2 and 1.3 only, which this list excludes; pgmoat's default (TLS 1.2 and up) applies");
    return undefined;
  }
  if (chosen.has('1.0') || chosen.has('1.1')) {
    ctx.report.note(s.origin, s.key, 'TLS 1.0 and 1.1 dropped: pgmoat accepts TLS 1.2 and 1.3 only');
  }
  if (supported.length === 2) return {};
  if (supported[0] === '1.3') return { min: 'TLSv1.3' };
  if (side === 'server') {
    ctx.report.notCarried(s.origin, s.key, 'pgmoat cannot cap the TLS version towards PostgreSQL at 1.2 (it has min_version only there)');
    return {};
  }
  return { max: 'TLSv1.2' };
}

function opensslAccepts(option: 'ciphers' | 'ecdhCurve', value: string): boolean {
  try {
    createSecureContext({ [option]: value });
    return true;
  } catch {
    return false;
  }
}

function clientCiphers(ctx: Ctx, s: IniSetting): void {
  const v = s.value.trim();
  const lower = v.toLowerCase();
  if (MODERN_CIPHER_SHORTCUTS.includes(lower)) {
    if (lower !== 'fast') ctx.report.note(s.origin, s.key, `PgBouncer's "${v}" list is not copied: Node's default list applies (ECDHE with AES-GCM or ChaCha20 first)`);
  } else if (LEGACY_CIPHER_SHORTCUTS.includes(lower)) {
    ctx.report.notCarried(s.origin, s.key, `pgmoat does not offer PgBouncer's legacy cipher list "${v}": Node's default list applies`);
  } else if (opensslAccepts('ciphers', v)) {
    ctx.out.tls.add({ key: 'ciphers', value: v });
  } else {
    ctx.report.notCarried(s.origin, s.key, `OpenSSL matches no cipher in ${JSON.stringify(v)}`);
  }
}

function clientTls13Ciphers(ctx: Ctx, s: IniSetting): void {
  const v = s.value.trim();
  const suites = v.split(':').filter((x) => x !== '');
  if (suites.length > 0 && suites.every((x) => x.startsWith('TLS_')) && opensslAccepts('ciphers', v)) {
    ctx.out.tls.add({ key: 'ciphersuites', value: suites.join(':') });
  } else if ([...MODERN_CIPHER_SHORTCUTS, ...LEGACY_CIPHER_SHORTCUTS].includes(v.toLowerCase())) {
    ctx.report.note(s.origin, s.key, `"${v}" is not copied: Node's default TLS 1.3 suites apply`);
  } else {
    ctx.report.notCarried(s.origin, s.key, `expected TLS 1.3 suite names separated by ":" (e.g. TLS_AES_256_GCM_SHA384), got ${JSON.stringify(v)}`);
  }
}

function ecdhCurve(ctx: Ctx, s: IniSetting): void {
  const v = s.value.trim();
  if (v.toLowerCase() === 'auto' || v === '') return;
  if (v.toLowerCase() === 'none') {
    ctx.report.notCarried(s.origin, s.key, 'pgmoat always offers ECDHE key exchange');
  } else if (opensslAccepts('ecdhCurve', v)) {
    ctx.out.tls.add({ key: 'groups', value: v });
  } else {
    ctx.report.notCarried(s.origin, s.key, `OpenSSL does not know the curve ${JSON.stringify(v)}`);
  }
}

function dheParams(ctx: Ctx, s: IniSetting): void {
  // pgmoat offers no finite-field DHE at all: the same as PgBouncer's "none".
  if (s.value.trim().toLowerCase() === 'none') return;
  ctx.report.notCarried(s.origin, s.key, 'pgmoat offers no finite-field DHE for TLS 1.2: key exchange is ECDHE (tls.groups)');
}

function readMode(ctx: Ctx, s: IniSetting | undefined): Mode | undefined {
  if (!s) return undefined;
  const v = s.value.trim().toLowerCase();
  if ((MODES as readonly string[]).includes(v)) return v as Mode;
  ctx.report.notCarried(s.origin, s.key, `unknown TLS mode ${JSON.stringify(s.value)} (expected one of ${MODES.join(', ')})`);
  return undefined;
}

/** Client side. `certAuth`: auth_type = cert, which pgmoat's verify-full is. */
export function convertClientTls(ctx: Ctx, certAuth: boolean): void {
  const modeSetting = ctx.pgb.get('client_tls_sslmode');
  const written = modeSetting ? readMode(ctx, modeSetting) : 'disable';
  let mode: Mode | undefined = written;
  if (certAuth) {
    mode = 'verify-full';
    if (written !== 'verify-ca' && written !== 'verify-full') {
      ctx.report.note(modeSetting?.origin, 'client_tls_sslmode', `auth_type = cert needs a verified client certificate: tls.mode verify-full (PgBouncer had ${written ?? 'an unknown mode'})`);
    }
  } else if (written === 'verify-full' || written === 'verify-ca') {
    mode = 'verify-ca';
    if (written === 'verify-full') {
      ctx.report.note(
        modeSetting?.origin,
        'client_tls_sslmode',
        "written as verify-ca: PgBouncer's client-side verify-full checks the certificate chain only, while pgmoat's verify-full also requires the certificate CN to equal the role (PgBouncer's auth_type = cert)",
      );
    }
  }
  if (mode !== undefined) ctx.out.tls.add({ key: 'mode', value: mode });
  if (mode === 'disable') {
    ctx.report.note(
      modeSetting?.origin,
      'client_tls_sslmode',
      `${modeSetting ? 'disable' : 'not set (PgBouncer\'s default: disable)'}: clients connect without TLS, as they did; pgmoat is built for tls.mode verify-full with its own CA (pgmoat init)`,
    );
  }
  const file = (name: string, key: string, role: 'file' | 'private key'): void => {
    const s = ctx.pgb.get(name);
    if (s && s.value !== '') ctx.out.tls.add({ key, value: carryPath(ctx, s.origin, name, s.value, role) });
  };
  file('client_tls_cert_file', 'cert', 'file');
  file('client_tls_key_file', 'key', 'private key');
  file('client_tls_ca_file', 'ca', 'file');
  const caFile = ctx.pgb.get('client_tls_ca_file');
  if (caFile && caFile.value !== '' && (mode === 'verify-ca' || mode === 'verify-full')) {
    // The hand-made CA keeps working as tls.ca; adopting it gives it an inventory and a CRL that pgmoat signs and the gateway follows.
    ctx.report.note(
      caFile.origin,
      'client_tls_ca_file',
      `carried as tls.ca; to issue, renew and revoke with this CA through pgmoat (and have tls.crl), adopt it: pgmoat ca adopt --dir DIR --cert ${caFile.value} --key <that CA's key> --issued <client certificates> --crl <its CRL, if any>, then set tls.ca and tls.crl as it prints`,
    );
  }
  if ((mode === 'verify-ca' || mode === 'verify-full') && !ctx.out.tls.get('ca')) {
    ctx.report.note(
      modeSetting?.origin,
      'client_tls_ca_file',
      "not set: PgBouncer then trusted the system's CA store for client certificates; pgmoat needs tls.ca, the CA that issues your clients' certificates (pgmoat init creates one)",
    );
  }
  const protocols = ctx.pgb.get('client_tls_protocols');
  if (protocols) {
    const range = protocolRange(ctx, protocols, 'client');
    if (range?.min) ctx.out.tls.add({ key: 'min_version', value: range.min });
    if (range?.max) ctx.out.tls.add({ key: 'max_version', value: range.max });
  }
  const each: [string, (ctx: Ctx, s: IniSetting) => void][] = [
    ['client_tls_ciphers', clientCiphers],
    ['client_tls13_ciphers', clientTls13Ciphers],
    ['client_tls_ecdhcurve', ecdhCurve],
    ['client_tls_dheparams', dheParams],
  ];
  for (const [name, fn] of each) {
    const s = ctx.pgb.get(name);
    if (s) fn(ctx, s);
  }
}

/** Server side: the `tls:` mapping every database gets, or undefined to keep pgmoat's default (prefer). */
export function convertServerTls(ctx: Ctx): Record<string, unknown> | undefined {
  const tls: Record<string, unknown> = {};
  const mode = readMode(ctx, ctx.pgb.get('server_tls_sslmode'));
  if (mode !== undefined) tls.mode = mode;
  const files: [string, string, 'file' | 'private key'][] = [
    ['server_tls_ca_file', 'ca', 'file'],
    ['server_tls_cert_file', 'cert', 'file'],
    ['server_tls_key_file', 'key', 'private key'],
  ];
  for (const [name, key, role] of files) {
    const s = ctx.pgb.get(name);
    if (s && s.value !== '') tls[key] = carryPath(ctx, s.origin, name, s.value, role);
  }
  if ((mode === 'verify-ca' || mode === 'verify-full') && tls.ca === undefined) {
    ctx.report.note(
      ctx.pgb.get('server_tls_sslmode')?.origin,
      'server_tls_ca_file',
      "not set: PgBouncer then trusted the system's CA store for the server's certificate; pgmoat needs databases.<name>.tls.ca (e.g. /etc/ssl/certs/ca-certificates.crt for a publicly signed server)",
    );
  }
  const protocols = ctx.pgb.get('server_tls_protocols');
  if (protocols) {
    const range = protocolRange(ctx, protocols, 'server');
    if (range?.min) tls.min_version = range.min;
  }
  const ciphers = ctx.pgb.get('server_tls_ciphers');
  if (ciphers && !MODERN_CIPHER_SHORTCUTS.includes(ciphers.value.trim().toLowerCase())) {
    ctx.report.notCarried(ciphers.origin, 'server_tls_ciphers', "pgmoat has no cipher setting towards PostgreSQL: Node's default list applies");
  }
  const tls13 = ctx.pgb.get('server_tls13_ciphers');
  if (tls13) ctx.report.notCarried(tls13.origin, 'server_tls13_ciphers', "pgmoat has no cipher setting towards PostgreSQL: Node's default TLS 1.3 suites apply");
  return Object.keys(tls).length === 0 ? undefined : tls;
}
