/**
 * Frame opcodes (RFC 6455 section 5.2). Constants rather than a TypeScript `enum`
 * so they erase at build time and read plainly in a debugger.
 */
export const Opcode = {
  /** A continuation frame of a fragmented message. */
  Continuation: 0x0,
  /** The first frame of a text message (UTF-8). */
  Text: 0x1,
  /** The first frame of a binary message. */
  Binary: 0x2,
  /** A close frame: starts or answers the closing handshake. */
  Close: 0x8,
  /** A ping: the peer must answer with a pong carrying the same payload. */
  Ping: 0x9,
  /** A pong: answers a ping, or serves as an unsolicited heartbeat. */
  Pong: 0xa,
} as const;

/** One of the opcodes RFC 6455 defines. */
export type Opcode = (typeof Opcode)[keyof typeof Opcode];

/** Whether `opcode` is a control frame (close, ping, pong: the high bit of the nibble is set). */
export function isControlOpcode(opcode: number): boolean {
  return (opcode & 0x8) !== 0;
}

/** Whether `opcode` is one RFC 6455 defines (the rest are reserved: 0x3-0x7 and 0xB-0xF). */
export function isKnownOpcode(opcode: number): opcode is Opcode {
  return opcode <= 0x2 || (opcode >= 0x8 && opcode <= 0xa);
}

const OPCODE_NAMES: Readonly<Record<Opcode, string>> = {
  [Opcode.Continuation]: 'continuation',
  [Opcode.Text]: 'text',
  [Opcode.Binary]: 'binary',
  [Opcode.Close]: 'close',
  [Opcode.Ping]: 'ping',
  [Opcode.Pong]: 'pong',
};

/** The lower-case name of an opcode RFC 6455 defines (`'text'`, `'ping'`, ...); `undefined` for a reserved one. */
export function opcodeName(opcode: number): string | undefined {
  return isKnownOpcode(opcode) ? OPCODE_NAMES[opcode] : undefined;
}
