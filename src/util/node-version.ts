/**
 * Which Node.js pgmoat runs on. package.json's `engines` says `>=22.12`, but npm only warns about
 * it and `node dist/src/cli/main.js` does not read it: an older Node would start and then fail deep
 * inside (KeyObject.toCryptoKey, listen's reusePort) with a TypeError that names neither Node nor
 * the fix. The CLI asks here first.
 */

/** The oldest Node.js pgmoat supports (as in package.json's engines). */
export const MIN_NODE = { major: 22, minor: 12 } as const;

/** Whether `version` ("24.21.0", with or without a leading "v") is at least major.minor. */
export function nodeAtLeast(version: string, major: number, minor: number): boolean {
  const [ma = 0, mi = 0] = version.replace(/^v/, '').split('.').map(Number);
  return ma > major || (ma === major && mi >= minor);
}

/** What to tell a user whose Node.js is too old; undefined when it is supported. */
export function nodeVersionProblem(version: string): string | undefined {
  if (nodeAtLeast(version, MIN_NODE.major, MIN_NODE.minor)) return undefined;
  return (
    `Node.js ${version.replace(/^v/, '')} is too old: pgmoat needs Node.js ${MIN_NODE.major}.${MIN_NODE.minor} or newer (24, the active LTS, is what it is tested on). ` +
    'Install a newer one, or without other downloads: npm install --prefix ~/.cache/pgmoat-node24 node@24, then put ~/.cache/pgmoat-node24/node_modules/node/bin first on PATH'
  );
}
