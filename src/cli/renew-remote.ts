/** `pgmoat renew --remote URL --cert F --key F`: one renewal through the renewal service, no CA directory. */
import { parseKeyType } from '../ca/keys.js';
import { remoteRenew, type RemoteRenewOptions } from '../renewal/remote-renew.js';
import { note, print, readPassphrase } from './cli-helpers.js';

export interface RemoteRenewCliOptions {
  remote: string;
  cert?: string;
  key?: string;
  ca?: string;
  keyPassphraseFile?: string;
  keyType?: string;
}

/** What --remote, --cert, --key, --ca, --key-passphrase-file and --key-type say, for renew --remote and agent alike. */
export function remoteRenewOptions(opts: RemoteRenewCliOptions & { cert: string; key: string }): RemoteRenewOptions {
  return {
    url: opts.remote,
    certPath: opts.cert,
    keyPath: opts.key,
    caPath: opts.ca,
    keyPassphrase: readPassphrase(opts.keyPassphraseFile, 'key passphrase file'),
    keyType: opts.keyType !== undefined ? parseKeyType(opts.keyType) : undefined,
  };
}

/** Options of the local renewal that make no sense with --remote (the service decides them). */
const LOCAL_ONLY = ['dir', 'out', 'env', 'days', 'csr', 'revokeOld', 'caPassphraseFile', 'print'];

export async function runRemoteRenew(name: string | undefined, opts: RemoteRenewCliOptions & Record<string, unknown>, usage: (message: string) => never): Promise<void> {
  const stray = LOCAL_ONLY.filter((o) => opts[o] !== undefined);
  if (name !== undefined || stray.length > 0) {
    const what = name !== undefined ? 'a NAME' : stray.map((o) => `--${o.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ');
    usage(`--remote renews the pair given by --cert and --key; ${what} cannot be used with it (the identity and lifetime come from the current certificate)`);
  }
  if (opts.cert === undefined || opts.key === undefined) usage('--remote needs --cert FILE and --key FILE (the current pair, replaced in place)');
  const result = await remoteRenew(remoteRenewOptions({ ...opts, cert: opts.cert, key: opts.key }));
  if (result.recovered === 'completed') note(`Finished the replacement a previous interrupted run had started`);
  print(`Renewed ${opts.cert} (serial ${result.oldSerial} -> ${result.serial}, expires ${result.notAfter.toISOString()}); new key in ${opts.key} (0600)`);
}
