/**
 * ParameterStatus ('S' from the server): a parameter's name and its new value, two NUL-terminated
 * strings. Read at login (upstream dialer, doctor) and by the relay when a SET changes a reported
 * parameter; the relay's path allocates nothing here but the two strings it keeps.
 */
import { cstringEnd } from './body-reader.js';

/**
 * Sets `into[name] = value` from the body at buf[start, end). False, and nothing set, when the
 * body is malformed (a string without its NUL, an empty name): the caller decides whether that
 * is fatal (login) or a message to pass on untouched (relay).
 */
export function readParameterStatus(buf: Buffer, start: number, end: number, into: Map<string, string>): boolean {
  const nameEnd = cstringEnd(buf, start, end);
  if (nameEnd <= start) return false;
  const valueEnd = cstringEnd(buf, nameEnd + 1, end);
  if (valueEnd < 0) return false;
  into.set(buf.toString('utf8', start, nameEnd), buf.toString('utf8', nameEnd + 1, valueEnd));
  return true;
}
