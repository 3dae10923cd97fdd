/**
 * Close codes (RFC 6455 section 7.4 and the IANA registry). Only the ones sockeye
 * sends or reports by name are listed; any code in 3000-4999 is valid too.
 */
export const CloseCode = {
  /** The purpose of the connection has been fulfilled. */
  Normal: 1000,
  /** The endpoint is going away: a server shutting down, a page navigating away. */
  GoingAway: 1001,
  /** The peer broke the protocol. */
  ProtocolError: 1002,
  /** The peer sent a type of data this endpoint cannot accept. */
  UnsupportedData: 1003,
  /** Reserved for reporting: the close frame carried no code. Never sent on the wire. */
  NoStatusReceived: 1005,
  /** Reserved for reporting: the connection dropped without a close frame. Never sent on the wire. */
  Abnormal: 1006,
  /** A text message was not valid UTF-8 (or the data was otherwise inconsistent with its type). */
  InvalidPayload: 1007,
  /** The peer violated a policy of this endpoint (origin, authentication, rate, backpressure). */
  PolicyViolation: 1008,
  /** A message was larger than this endpoint accepts. */
  MessageTooBig: 1009,
  /** The client expected an extension that the server did not negotiate. */
  MandatoryExtension: 1010,
  /** The server met an unexpected condition (a handler threw). */
  InternalError: 1011,
  /** The service is restarting. */
  ServiceRestart: 1012,
  /** Try again later: the server is overloaded. */
  TryAgainLater: 1013,
  /** A gateway received an invalid response from upstream. */
  BadGateway: 1014,
  /** Reserved for reporting: the TLS handshake failed. Never sent on the wire. */
  TlsHandshake: 1015,
} as const;

/** A close code named in {@link CloseCode}. Other valid codes are plain numbers. */
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/**
 * Whether `code` may appear in a close frame on the wire (RFC 6455 section 7.4.1 and 7.4.2).
 *
 * Valid: 1000-1003, 1007-1014 (the registered ones) and 3000-4999 (libraries, frameworks
 * and applications). Everything else is invalid: below 1000, 1004 (reserved), 1005, 1006
 * and 1015 (reserved for reporting only), 1016-2999 (reserved for future RFCs) and 5000 up.
 */
export function isValidWireCloseCode(code: number): boolean {
  if (!Number.isInteger(code)) return false;
  if (code >= 3000 && code <= 4999) return true;
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014);
}
