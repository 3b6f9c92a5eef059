/** How config values and key paths are shown in error messages. */

type PathSegment = PropertyKey;

const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** `databases.app.port`, `admin.identities[0]`, `databases["my.db"].host`. */
export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (typeof seg === 'string' && PLAIN_KEY.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(String(seg))}]`;
  }
  return out;
}

/** Keys whose values may be secrets or point at them: their values are never echoed. */
function isSensitive(path: readonly PathSegment[]): boolean {
  return path.some((seg) => typeof seg === 'string' && /password|passphrase|secret/i.test(seg));
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  switch (typeof value) {
    case 'string':
      return 'a string';
    case 'number':
      return 'a number';
    case 'boolean':
      return 'a boolean';
    case 'object':
      return 'a mapping';
    default:
      return typeof value;
  }
}

/** The value as a reader would recognize it from the file: `"abc"`, `70000`, `a list`. */
export function describeValue(value: unknown, path: readonly PathSegment[] = []): string {
  if (value === undefined) return 'nothing';
  if (isSensitive(path)) return typeName(value);
  if (typeof value === 'string') {
    const shown = value.length > 60 ? `${value.slice(0, 57)}...` : value;
    return JSON.stringify(shown);
  }
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  return typeName(value);
}
