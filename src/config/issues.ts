/** Turns zod issues into the lines a person reads: "<file>: <key path>: <what is wrong>". */
import type { z } from 'zod';
import { describeValue, formatPath } from './describe.js';
import { didYouMean } from './suggest.js';

/**
 * The subset of zod 4's schema definitions that the key walk needs. zod exposes `_zod.def`
 * for introspection; it is typed as a union too wide to narrow usefully here.
 */
interface DefView {
  type: string;
  shape?: Record<string, SchemaView>;
  valueType?: SchemaView;
  innerType?: SchemaView;
  in?: SchemaView;
  element?: SchemaView;
}
interface SchemaView {
  _zod: { def: DefView };
}

function unwrap(schema: SchemaView | undefined): SchemaView | undefined {
  let s = schema;
  for (let i = 0; s && i < 20; i++) {
    const def = s._zod.def;
    const next = def.innerType ?? (def.type === 'pipe' ? def.in : undefined);
    if (!next) return s;
    s = next;
  }
  return s;
}

/** The keys a mapping at `path` accepts, found by walking the schema. */
export function knownKeysAt(root: z.ZodType, path: readonly PropertyKey[]): string[] {
  let s = unwrap(root as unknown as SchemaView);
  for (const seg of path) {
    const def = s?._zod.def;
    if (!def) return [];
    if (def.type === 'object') s = unwrap(def.shape?.[String(seg)]);
    else if (def.type === 'record') s = unwrap(def.valueType);
    else if (def.type === 'array') s = unwrap(def.element);
    else return [];
  }
  const def = s?._zod.def;
  return def?.type === 'object' && def.shape ? Object.keys(def.shape) : [];
}

const EXPECTED_WORDS: Record<string, string> = {
  object: 'a mapping (key: value)',
  record: 'a mapping (key: value)',
  array: 'a list',
  string: 'a string',
  number: 'a number',
  boolean: 'true or false',
};

/** Fallback wording for issues whose field did not bring its own message. */
export function fallbackMessage(iss: z.core.$ZodRawIssue): string | undefined {
  if (iss.code === 'invalid_type') {
    if (iss.input === undefined) return 'is required';
    const expected = EXPECTED_WORDS[iss.expected] ?? iss.expected;
    return `expected ${expected}, got ${describeValue(iss.input, iss.path ?? [])}`;
  }
  return undefined;
}

/** One line per problem; unknown keys get one line each, with a suggestion when one is close. */
export function formatIssues(issues: readonly z.core.$ZodIssue[], root: z.ZodType, label: string): string[] {
  const lines: string[] = [];
  const add = (path: readonly PropertyKey[], message: string): void => {
    const where = formatPath(path);
    const line = where === '' ? `${label}: ${message}` : `${label}: ${where}: ${message}`;
    if (!lines.includes(line)) lines.push(line);
  };
  for (const iss of issues) {
    if (iss.code === 'unrecognized_keys') {
      const known = knownKeysAt(root, iss.path);
      for (const key of iss.keys) {
        const hint = didYouMean(key, known);
        add([...iss.path, key], `unknown key${hint ? ` (did you mean "${hint}"?)` : ''}`);
      }
    } else {
      add(iss.path, iss.message);
    }
  }
  return lines;
}
