/**
 * The token syntax PostgreSQL shares between pg_hba.conf and pg_ident.conf: fields separated
 * by blanks, a field may be a comma list, double quotes keep blanks, commas and '#' (and
 * `""` inside quotes is a literal quote), '#' outside quotes starts a comment, and a line
 * ending in a backslash continues on the next one (the backslash is removed, nothing is
 * inserted). A quoted token keeps `quoted: true` so that "all" is a name, not the keyword.
 */

export interface ConfToken {
  value: string;
  quoted: boolean;
}

/** One field: a comma list of tokens (usually a single one). */
export type ConfField = ConfToken[];

export interface ConfLine {
  /** 1-based number of the physical line the record starts on. */
  line: number;
  fields: ConfField[];
}

/** Raised for a syntax error; the caller turns it into its own error with the file name. */
export class ConfSyntaxError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(message);
    this.name = 'ConfSyntaxError';
  }
}

const isBlank = (c: string): boolean => c === ' ' || c === '\t' || c === '\r';

function logicalLines(text: string): { line: number; text: string }[] {
  const physical = text.replace(/^\uFEFF/, '').split('\n');
  const out: { line: number; text: string }[] = [];
  let pending: { line: number; text: string } | undefined;
  physical.forEach((raw, index) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    const current = pending ?? { line: index + 1, text: '' };
    if (line.endsWith('\\')) {
      current.text += line.slice(0, -1);
      pending = current;
      return;
    }
    current.text += line;
    out.push(current);
    pending = undefined;
  });
  if (pending) out.push(pending);
  return out;
}

function tokenizeLine(text: string, line: number): ConfField[] {
  const fields: ConfField[] = [];
  let i = 0;
  const skipBlanks = (): void => {
    while (i < text.length && isBlank(text[i]!)) i++;
  };
  const readToken = (): ConfToken => {
    let value = '';
    let quoted = false;
    let inQuote = false;
    while (i < text.length) {
      const c = text[i]!;
      if (!inQuote && (isBlank(c) || c === ',' || c === '#')) break;
      if (c === '"') {
        if (inQuote && text[i + 1] === '"') {
          value += '"';
          i += 2;
          continue;
        }
        inQuote = !inQuote;
        quoted = true;
        i++;
        continue;
      }
      value += c;
      i++;
    }
    if (inQuote) throw new ConfSyntaxError(line, 'unterminated quoted string');
    return { value, quoted };
  };
  for (;;) {
    skipBlanks();
    if (i >= text.length || text[i] === '#') return fields;
    if (text[i] === ',') throw new ConfSyntaxError(line, 'empty element in a comma-separated list');
    const field: ConfField = [];
    for (;;) {
      field.push(readToken());
      if (text[i] !== ',') break;
      i++;
      skipBlanks();
      if (i >= text.length || text[i] === '#' || text[i] === ',') {
        throw new ConfSyntaxError(line, 'empty element in a comma-separated list');
      }
    }
    fields.push(field);
  }
}

/** Records of the file, blank and comment-only lines left out. */
export function tokenizeConf(text: string): ConfLine[] {
  const out: ConfLine[] = [];
  for (const { line, text: body } of logicalLines(text)) {
    const fields = tokenizeLine(body, line);
    if (fields.length > 0) out.push({ line, fields });
  }
  return out;
}

/** The token text for messages: quoted the way it was written. */
export function showToken(token: ConfToken): string {
  const v = token.value.length > 80 ? `${token.value.slice(0, 80)}...` : token.value;
  return token.quoted ? JSON.stringify(v) : v;
}
