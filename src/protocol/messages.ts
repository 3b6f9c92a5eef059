/** Builders for the messages pgmoat itself sends. Constant messages are built once. */
import { AuthCode, Backend, Frontend, PROTOCOL_3_0, SSL_REQUEST_CODE, CANCEL_REQUEST_CODE } from './codes.js';
import { MessageWriter } from './message-writer.js';

const w = new MessageWriter(256);

function build(fn: (writer: MessageWriter) => void): Buffer {
  w.reset();
  fn(w);
  return w.take();
}

const AUTH_OK = build((x) => x.begin(Backend.Authentication).int32(AuthCode.Ok).end());
export const READY_IDLE = build((x) => x.begin(Backend.ReadyForQuery).int8(0x49).end());
export const SSL_ACCEPT = Buffer.from('S');
export const SSL_REFUSE = Buffer.from('N');
export const GSSENC_REFUSE = Buffer.from('N');
export const TERMINATE = build((x) => x.begin(Frontend.Terminate).end());
export const SSL_REQUEST = build((x) => x.begin(0).int32(SSL_REQUEST_CODE).end());

/**
 * What a client is sent once its login succeeds, as one buffer: AuthenticationOk, a
 * ParameterStatus per parameter, BackendKeyData and ReadyForQuery (idle).
 */
export function loginWelcome(params: Iterable<readonly [string, string]>, cancelPid: number, cancelSecret: number): Buffer {
  return build((x) => {
    x.bytes(AUTH_OK);
    for (const [name, value] of params) x.begin(Backend.ParameterStatus).cstring(name).cstring(value).end();
    x.begin(Backend.BackendKeyData).int32(cancelPid).int32(cancelSecret).end();
    x.bytes(READY_IDLE);
  });
}

export function query(sql: string): Buffer {
  return build((x) => x.begin(Frontend.Query).cstring(sql).end());
}

export function startupMessage(params: ReadonlyMap<string, string> | Record<string, string>): Buffer {
  const entries = params instanceof Map ? [...params] : Object.entries(params);
  return build((x) => {
    x.begin(0).int32(PROTOCOL_3_0);
    for (const [k, v] of entries) x.cstring(k).cstring(v);
    x.int8(0).end();
  });
}

export function cancelRequest(pid: number, secret: number): Buffer {
  return build((x) => x.begin(0).int32(CANCEL_REQUEST_CODE).int32(pid).int32(secret).end());
}

export function passwordMessage(password: string): Buffer {
  return build((x) => x.begin(Frontend.Password).cstring(password).end());
}

export function saslInitialResponse(mechanism: string, data: string): Buffer {
  const body = Buffer.from(data, 'utf8');
  return build((x) => x.begin(Frontend.Password).cstring(mechanism).int32(body.length).bytes(body).end());
}

export function saslResponse(data: string): Buffer {
  return build((x) => x.begin(Frontend.Password).bytes(Buffer.from(data, 'utf8')).end());
}

/** AuthenticationCleartextPassword / MD5Password / SASL requests sent to clients. */
export function authRequest(code: number, extra?: Buffer): Buffer {
  return build((x) => {
    x.begin(Backend.Authentication).int32(code);
    if (extra) x.bytes(extra);
    x.end();
  });
}

export function authSasl(mechanisms: readonly string[]): Buffer {
  return build((x) => {
    x.begin(Backend.Authentication).int32(AuthCode.SASL);
    for (const m of mechanisms) x.cstring(m);
    x.int8(0).end();
  });
}

export function commandComplete(tag: string): Buffer {
  return build((x) => x.begin(Backend.CommandComplete).cstring(tag).end());
}

export function emptyQueryResponse(): Buffer {
  return build((x) => x.begin(Backend.EmptyQueryResponse).end());
}

/** RowDescription for text columns (type oid 25), the shape the admin console answers with. */
export function rowDescriptionText(columns: readonly string[]): Buffer {
  return build((x) => {
    x.begin(Backend.RowDescription).int16(columns.length);
    for (const name of columns) x.cstring(name).int32(0).int16(0).int32(25).int16(-1).int32(-1).int16(0);
    x.end();
  });
}

export function dataRowText(values: readonly (string | null)[]): Buffer {
  return build((x) => {
    x.begin(Backend.DataRow).int16(values.length);
    for (const v of values) {
      if (v === null) {
        x.int32(-1);
      } else {
        const b = Buffer.from(v, 'utf8');
        x.int32(b.length).bytes(b);
      }
    }
    x.end();
  });
}
