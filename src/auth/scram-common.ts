/**
 * What the SCRAM-SHA-256 client and server share (RFC 5802, RFC 7677): the key derivation,
 * the attribute syntax, and the one error type for a peer that breaks the protocol.
 */
import { createHash, createHmac, pbkdf2, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { PgmoatError } from '../util/errors.js';

export const SCRAM_SHA_256 = 'SCRAM-SHA-256';
export const SCRAM_SHA_256_PLUS = 'SCRAM-SHA-256-PLUS';
/** Key and hash length of SHA-256. */
export const SCRAM_KEY_LEN = 32;
/** PostgreSQL's defaults: 18 random bytes of nonce, 16 bytes of salt, 4096 iterations. */
const SCRAM_RAW_NONCE_LEN = 18;
export const SCRAM_DEFAULT_SALT_LEN = 16;
export const SCRAM_DEFAULT_ITERATIONS = 4096;
/** Above this a peer is wasting our CPU, not protecting a password. */
export const SCRAM_MAX_ITERATIONS = 10_000_000;
/** No legitimate SCRAM message comes near this; it bounds the work on hostile input. */
export const SCRAM_MAX_MESSAGE_LEN = 8192;

export function scramProtocolError(message: string, detail?: string): PgmoatError {
  return new PgmoatError('SCRAM_PROTOCOL', message, {
    ...(detail === undefined ? {} : { detail }),
  });
}

export function sha256(data: Buffer): Buffer {
  return createHash('sha256').update(data).digest();
}

export function hmacSha256(key: Buffer, data: Buffer | string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

/** Hi() of RFC 5802 is PBKDF2 with one output block. */
export function saltedPassword(password: Buffer, salt: Buffer, iterations: number): Buffer {
  return pbkdf2Sync(password, salt, iterations, SCRAM_KEY_LEN, 'sha256');
}

/** The same, on libuv's thread pool, so a login does not stall the event loop. */
export function saltedPasswordAsync(password: Buffer, salt: Buffer, iterations: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    pbkdf2(password, salt, iterations, SCRAM_KEY_LEN, 'sha256', (err, key) => (err ? reject(err) : resolve(key)));
  });
}

export interface ScramKeys {
  storedKey: Buffer;
  serverKey: Buffer;
  clientKey: Buffer;
}

export function keysFromSaltedPassword(salted: Buffer): ScramKeys {
  const clientKey = hmacSha256(salted, 'Client Key');
  return { clientKey, storedKey: sha256(clientKey), serverKey: hmacSha256(salted, 'Server Key') };
}

export function xor(a: Buffer, b: Buffer): Buffer {
  if (a.length !== b.length) throw new Error('xor of buffers of different lengths');
  const out = Buffer.alloc(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i]! ^ b[i]!;
  return out;
}

/** Constant-time equality; a length mismatch still costs one comparison. */
export function safeEqual(a: Buffer, b: Buffer): boolean {
  if (a.length !== b.length) {
    timingSafeEqual(a, a);
    return false;
  }
  return timingSafeEqual(a, b);
}

export function randomNonce(): string {
  return randomBytes(SCRAM_RAW_NONCE_LEN).toString('base64');
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Strict base64 (Node's decoder silently skips garbage); undefined when invalid. */
export function decodeBase64(text: string): Buffer | undefined {
  if (!BASE64.test(text)) return undefined;
  return Buffer.from(text, 'base64');
}

/** RFC 5802 `printable`: %x21-2B / %x2D-7E, i.e. visible ASCII without ','. */
export function isPrintableNonce(text: string): boolean {
  return text.length > 0 && /^[\x21-\x2b\x2d-\x7e]+$/.test(text);
}

/** Decodes a SASL message, refusing oversized input before any work is done on it. */
export function messageText(msg: string | Buffer, what: string): string {
  const length = typeof msg === 'string' ? msg.length : msg.byteLength;
  if (length > SCRAM_MAX_MESSAGE_LEN) throw scramProtocolError(`malformed SCRAM message (${what} is too long)`);
  return typeof msg === 'string' ? msg : msg.toString('utf8');
}

export interface ScramAttribute {
  name: string;
  value: string;
}

/**
 * Splits `a=...,b=...` into attributes. Values cannot hold ',' (RFC 5802 escapes it in
 * names as =2C), so a plain split is exact.
 */
export function parseAttributes(text: string, what: string): ScramAttribute[] {
  return text.split(',').map((part) => {
    if (!/^[A-Za-z]=/.test(part)) {
      throw scramProtocolError(`malformed SCRAM message (${what} has an attribute that is not "x=value")`);
    }
    return { name: part[0]!, value: part.slice(2) };
  });
}

/** Takes the next attribute, which must have the given name. */
export function expectAttribute(attrs: ScramAttribute[], index: number, name: string, what: string): string {
  const attr = attrs[index];
  if (attr === undefined) throw scramProtocolError(`malformed SCRAM message (${what} lacks attribute "${name}")`);
  if (attr.name !== name) {
    throw scramProtocolError(`malformed SCRAM message (${what}: expected attribute "${name}", found "${attr.name}")`);
  }
  return attr.value;
}

/** Iteration count as sent by a peer: decimal digits, 1..SCRAM_MAX_ITERATIONS. */
export function parseIterations(text: string, what: string): number {
  if (!/^[1-9][0-9]{0,9}$/.test(text)) {
    throw scramProtocolError(`malformed SCRAM message (${what} has an invalid iteration count)`);
  }
  const n = Number(text);
  if (n > SCRAM_MAX_ITERATIONS) {
    throw scramProtocolError(`SCRAM iteration count ${n} exceeds the limit of ${SCRAM_MAX_ITERATIONS}`);
  }
  return n;
}
