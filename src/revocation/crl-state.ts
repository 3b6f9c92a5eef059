/**
 * The CRL floor on disk, so that a restarted gateway refuses an older CRL too. A small JSON file,
 * by default beside the CRL (`crl.pem` -> `crl-state.json`; `tls.crl_state_file` moves it),
 * written atomically (temp file, fsync, rename) with mode 0600:
 *
 *   {"version":1,"crl":"/etc/pgmoat/crl.pem","marks":[{"issuer":"CN=pgmoat CA, O=pgmoat",
 *    "authority_key_id":"5f…","crl_number":"7","this_update":"2026-…Z","digest":"…"}]}
 *
 * It holds nothing secret: what any CRL carries, plus a digest of it. The name avoids
 * `crl.pem.*.tmp`, which `pgmoat revoke` sweeps up as its own stale temp files.
 */
import { readFileSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { writeFileAtomic } from '../util/atomic-file.js';
import { PgmoatError, errorMessage } from '../util/errors.js';
import { compareCrl, issuerKey, type CrlMark } from './crl-order.js';

const STATE_VERSION = 1;

/** Where the floor of `crlPath` is kept unless `tls.crl_state_file` says otherwise. */
export function defaultCrlStatePath(crlPath: string): string {
  const name = basename(crlPath);
  const ext = extname(name);
  const stem = ext && ext !== name ? name.slice(0, -ext.length) : name;
  return join(dirname(crlPath), `${stem}-state.json`);
}

interface MarkJson {
  issuer: string;
  authority_key_id?: string | undefined;
  crl_number?: string | undefined;
  this_update: string;
  digest: string;
}

function toJson(m: CrlMark): MarkJson {
  return {
    issuer: m.issuer,
    ...(m.authorityKeyId !== undefined ? { authority_key_id: m.authorityKeyId } : {}),
    ...(m.crlNumber !== undefined ? { crl_number: m.crlNumber.toString() } : {}),
    this_update: m.thisUpdate.toISOString(),
    digest: m.digest,
  };
}

function fromJson(v: unknown): CrlMark {
  const o = v as Partial<MarkJson> | null;
  if (!o || typeof o !== 'object' || typeof o.issuer !== 'string' || typeof o.this_update !== 'string' || typeof o.digest !== 'string') throw new Error('a mark lacks issuer, this_update or digest');
  if (o.authority_key_id !== undefined && (typeof o.authority_key_id !== 'string' || !/^[0-9a-f]*$/.test(o.authority_key_id))) throw new Error('bad authority_key_id');
  if (o.crl_number !== undefined && (typeof o.crl_number !== 'string' || !/^\d{1,50}$/.test(o.crl_number))) throw new Error('bad crl_number');
  const thisUpdate = new Date(o.this_update);
  if (Number.isNaN(thisUpdate.getTime())) throw new Error('bad this_update');
  return { issuer: o.issuer, authorityKeyId: o.authority_key_id, crlNumber: o.crl_number === undefined ? undefined : BigInt(o.crl_number), thisUpdate, digest: o.digest };
}

/** The floor recorded at `statePath`; none when the file does not exist. Throws CRL_STATE_INVALID otherwise. */
export function readCrlState(statePath: string): CrlMark[] {
  let text: string;
  try {
    text = readFileSync(statePath, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new PgmoatError('CRL_STATE_INVALID', `cannot read the CRL state file ${statePath}: ${(err as NodeJS.ErrnoException).code ?? errorMessage(err)}`, { cause: err });
  }
  try {
    const doc = JSON.parse(text) as { version?: unknown; marks?: unknown };
    if (doc.version !== STATE_VERSION || !Array.isArray(doc.marks)) throw new Error(`expected {"version":${STATE_VERSION},"marks":[...]}`);
    return doc.marks.map(fromJson);
  } catch (err) {
    throw new PgmoatError(
      'CRL_STATE_INVALID',
      `the CRL state file ${statePath} is not valid (${errorMessage(err)}). It records the newest CRL this gateway enforced, so that an older one is refused; if you trust the CRL file as it is now, delete ${statePath} and start again`,
      { cause: err },
    );
  }
}

/**
 * Writes `marks`, keeping per issuer whichever of them and of what the file holds now is newer
 * (the workers of `serve --workers N` write the same file). Returns the problem of the file it
 * replaced when that one was not valid; throws what the file system threw.
 */
export function writeCrlState(statePath: string, crlPath: string, marks: readonly CrlMark[]): { replacedInvalid: PgmoatError | undefined } {
  let onDisk: CrlMark[] = [];
  let replacedInvalid: PgmoatError | undefined;
  try {
    onDisk = readCrlState(statePath);
  } catch (err) {
    if (!(err instanceof PgmoatError)) throw err;
    replacedInvalid = err;
  }
  const out = new Map<string, CrlMark>();
  for (const m of marks) out.set(issuerKey(m), m);
  for (const d of onDisk) {
    const mine = out.get(issuerKey(d));
    if (!mine) out.set(issuerKey(d), d);
    else if (compareCrl(d, mine) === 'newer') out.set(issuerKey(d), d);
  }
  const doc = { version: STATE_VERSION, crl: crlPath, marks: [...out.values()].map(toJson) };
  writeFileAtomic(statePath, `${JSON.stringify(doc, null, 2)}\n`, 0o600);
  return { replacedInvalid };
}
