/**
 * Writes the converted configuration as YAML with comments: an entry may carry explanation
 * lines before it, or be written entirely as comments (a suggestion the person has to
 * complete, such as the `*` fallback database). Values are serialized by the yaml package,
 * which quotes whatever needs quoting.
 */
import { stringify } from 'yaml';

export interface YamlEntry {
  key: string;
  /** A plain value (serialized as is) or a block of entries (which may hold comments). */
  value: unknown;
  comments?: string[];
  /** Written as `# ...` lines: not part of the configuration until someone edits it. */
  commentedOut?: boolean;
}

/** A mapping whose entries are written one by one, so each can carry comments. */
export class YamlBlock {
  readonly entries: YamlEntry[] = [];

  /**
   * required: with only commented-out entries the block is still written, as `key: {}`
   * (databases: the schema needs the mapping). Otherwise its key is commented out too.
   */
  constructor(readonly required = false) {}

  add(entry: YamlEntry): void {
    this.entries.push(entry);
  }

  get(key: string): YamlEntry | undefined {
    return this.entries.find((e) => e.key === key && !e.commentedOut);
  }

  liveCount(): number {
    return this.entries.filter((e) => !e.commentedOut).length;
  }
}

function commentLines(lines: readonly string[], indent: string): string[] {
  return lines.flatMap((l) => l.split('\n')).map((l) => (l === '' ? `${indent}#` : `${indent}# ${l}`));
}

function plain(key: string, value: unknown): string[] {
  const text = stringify({ [key]: value }, { lineWidth: 0, indent: 2 });
  return text.replace(/\n$/, '').split('\n');
}

function renderEntry(e: YamlEntry, indent: string): string[] {
  const out = commentLines(e.comments ?? [], indent);
  let body: string[];
  if (e.value instanceof YamlBlock) {
    const head = plain(e.key, null)[0]!.replace(/ null$/, '');
    // Inside an entry that is itself commented out, children are written plainly (one "#" level).
    const children = renderBlock(e.value, '  ', e.commentedOut === true);
    if (e.value.liveCount() > 0 || e.commentedOut) body = [head, ...children];
    else if (e.value.required || e.value.entries.length === 0) body = [`${head} {}`, ...children];
    else return renderEntry({ ...e, commentedOut: true }, indent);
  } else {
    body = plain(e.key, e.value);
  }
  if (e.commentedOut) return [...out, ...body.map((l) => `${indent}# ${l}`)];
  return [...out, ...body.map((l) => `${indent}${l}`)];
}

function renderBlock(block: YamlBlock, indent: string, allLive = false): string[] {
  return block.entries.flatMap((e) => renderEntry(allLive ? { ...e, commentedOut: false } : e, indent));
}

/** The whole document: header comment lines, then the top-level entries. */
export function renderYaml(header: readonly string[], top: YamlBlock): string {
  const lines = [...commentLines(header, ''), ...renderBlock(top, '')];
  return `${lines.join('\n')}\n`;
}
