/** What an admin command answers, and its wire form (RowDescription, DataRow..., CommandComplete). */
import * as msg from '../protocol/messages.js';

export type Cell = string | number | null;

export interface CommandResult {
  /** Absent for commands without a result set (RELOAD, PAUSE, ...). */
  columns?: readonly string[];
  rows?: readonly (readonly Cell[])[];
  tag: string;
}

export function encodeResult(r: CommandResult): Buffer[] {
  const out: Buffer[] = [];
  if (r.columns) {
    out.push(msg.rowDescriptionText(r.columns));
    for (const row of r.rows ?? []) out.push(msg.dataRowText(row.map((c) => (c === null ? null : String(c)))));
  }
  out.push(msg.commandComplete(r.tag));
  return out;
}

/** PgBouncer's timestamp format in SHOW output: `2024-05-01 12:00:00 UTC`. */
export function formatTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}
