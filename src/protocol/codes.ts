/** Wire constants of the PostgreSQL frontend/backend protocol, version 3.0. */

export const PROTOCOL_3_0 = 196608; // (3 << 16) | 0
export const SSL_REQUEST_CODE = 80877103;
export const GSSENC_REQUEST_CODE = 80877104;
export const CANCEL_REQUEST_CODE = 80877102;

/** The first byte of a TLS record carrying a handshake: a direct-TLS ClientHello. */
export const TLS_HANDSHAKE_RECORD = 0x16;

/** Messages from the client (frontend). */
export const Frontend = {
  Bind: 0x42, // 'B'
  Close: 0x43, // 'C'
  CopyData: 0x64, // 'd'
  CopyDone: 0x63, // 'c'
  CopyFail: 0x66, // 'f'
  Describe: 0x44, // 'D'
  Execute: 0x45, // 'E'
  Flush: 0x48, // 'H'
  FunctionCall: 0x46, // 'F'
  Parse: 0x50, // 'P'
  Password: 0x70, // 'p' (also SASLInitialResponse, SASLResponse, GSSResponse)
  Query: 0x51, // 'Q'
  Sync: 0x53, // 'S'
  Terminate: 0x58, // 'X'
} as const;

/** Messages from the server (backend). */
export const Backend = {
  Authentication: 0x52, // 'R'
  BackendKeyData: 0x4b, // 'K'
  BindComplete: 0x32, // '2'
  CloseComplete: 0x33, // '3'
  CommandComplete: 0x43, // 'C'
  CopyData: 0x64, // 'd'
  CopyDone: 0x63, // 'c'
  CopyInResponse: 0x47, // 'G'
  CopyOutResponse: 0x48, // 'H'
  CopyBothResponse: 0x57, // 'W'
  DataRow: 0x44, // 'D'
  EmptyQueryResponse: 0x49, // 'I'
  ErrorResponse: 0x45, // 'E'
  NegotiateProtocolVersion: 0x76, // 'v'
  NoData: 0x6e, // 'n'
  NoticeResponse: 0x4e, // 'N'
  NotificationResponse: 0x41, // 'A'
  ParameterDescription: 0x74, // 't'
  ParameterStatus: 0x53, // 'S'
  ParseComplete: 0x31, // '1'
  PortalSuspended: 0x73, // 's'
  ReadyForQuery: 0x5a, // 'Z'
  RowDescription: 0x54, // 'T'
} as const;

/** Authentication request codes inside an 'R' message. */
export const AuthCode = {
  Ok: 0,
  KerberosV5: 2,
  CleartextPassword: 3,
  MD5Password: 5,
  GSS: 7,
  GSSContinue: 8,
  SSPI: 9,
  SASL: 10,
  SASLContinue: 11,
  SASLFinal: 12,
} as const;

/** Transaction status byte of ReadyForQuery. */
export const TxStatus = {
  Idle: 0x49, // 'I'
  InTransaction: 0x54, // 'T'
  Failed: 0x45, // 'E'
} as const;

/** Limits for the phase before login: a startup packet is small; PostgreSQL caps it at 10,000 bytes. */
export const MAX_STARTUP_PACKET = 10_000;
/** Smallest valid message length field (the length counts itself). */
export const MIN_MESSAGE_LENGTH = 4;
