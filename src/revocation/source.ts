/**
 * What pgmoat asks about revocation, whatever answers it: is this serial revoked (since when, for
 * what reason), how fresh is the list behind the answer, and when does it change. The CRL file
 * (crl-file-source.ts) is one RevocationSource; revocations fanned out from PostgreSQL or OCSP
 * answers would be others. Revocations (revocations.ts) puts the sources together, and the TLS
 * verdict, the login and the session enforcer only ever see a RevocationCheck or Revocations.
 */

/** RFC 5280 5.3.1 reason codes by name (`pgmoat revoke --reason` writes a subset of them). */
export type RevocationReason =
  | 'unspecified'
  | 'keyCompromise'
  | 'cACompromise'
  | 'affiliationChanged'
  | 'superseded'
  | 'cessationOfOperation'
  | 'certificateHold'
  | 'removeFromCRL'
  | 'privilegeWithdrawn'
  | 'aACompromise';

/** One revoked certificate as a source knows it. */
export interface Revocation {
  /** The serial in the canonical form (util/serial.ts). */
  readonly serial: string;
  /** When its issuer revoked it; undefined when the source does not say. */
  readonly revokedAt: Date | undefined;
  /** The reason code; undefined when the source gives none (a CRL leaves out `unspecified`). */
  readonly reason: RevocationReason | undefined;
}

/** The question asked at the handshake, at login and of live sessions. */
export interface RevocationCheck {
  /** The revocation of `serial` (canonical form, as PeerIdentity.serial), or undefined when it is not revoked. */
  lookup(serial: string): Revocation | undefined;
}

/** How current a source's list is. */
export interface RevocationFreshness {
  /** The source's name (RevocationSource.name). */
  readonly source: string;
  /** When the list was issued (a CRL's thisUpdate; with several CRLs the oldest). */
  readonly thisUpdate: Date | undefined;
  /** When the next list is due (a CRL's nextUpdate; with several the earliest). Past it the list is stale, and still enforced. */
  readonly nextUpdate: Date | undefined;
  /** When pgmoat took this list in (ms since the epoch). */
  readonly loadedAt: number | undefined;
  /** Where the list stands in its issuer's sequence (a CRL number), per issuer that numbers its lists. */
  readonly sequence: readonly { readonly issuer: string; readonly number: bigint }[];
  readonly revokedCount: number;
  /** For a source fed by a connection (the CA store): whether it is connected and listening now. */
  readonly connected?: boolean | undefined;
}

/** A source's list changed (a new CRL, a reload, a source added or removed). */
export interface RevocationChange {
  readonly source: string;
  /** Serials revoked now that were not before (canonical form). */
  readonly added: readonly string[];
  /** Serials no longer revoked (a newer CRL may lift a revocation). */
  readonly removed: readonly string[];
  /** When the change was published (crl.pem's mtime), to measure the delay to enforcement. */
  readonly publishedAt: number;
}

export type RevocationListener = (change: RevocationChange) => void;

/**
 * A place revocations come from. It tells its listeners every time its list changed, even when
 * no serial did (a re-signed CRL is fresher). Its own failures (a bad file, a lost connection)
 * it logs itself, keeping the list it has: a source never un-revokes because it failed.
 */
export interface RevocationSource extends RevocationCheck {
  /** Short and stable: it names the source in metrics and logs (`crl`). */
  readonly name: string;
  /** Every serial it lists (the TLS ticket keys derive from them). */
  serials(): Iterable<string>;
  /** undefined while it holds no list. */
  freshness(now: number): RevocationFreshness | undefined;
  /** Returns the function that unsubscribes. */
  subscribe(listener: RevocationListener): () => void;
  /** Begins watching (files, connections); called once the gateway listens. */
  start(): void;
  stop(): void;
  /** The gateway's janitor, every 250 ms: a fallback poll, a repeated warning. */
  poll(now: number): void;
}
