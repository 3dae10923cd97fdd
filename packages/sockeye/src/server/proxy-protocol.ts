/**
 * The PROXY protocol (HAProxy's, versions 1 and 2), as load balancers put it in front of
 * a TCP connection to pass the client's address on. Parsed strictly and incrementally,
 * bounded in bytes: anything malformed is a {@link ProxyProtocolError}, and the server
 * closes the socket without an answer.
 * @packageDocumentation
 */
import { isIP } from 'node:net';
import { SockeyeError } from '../protocol/errors.js';
import { formatIp } from './client-address.js';

/** Which rule of the PROXY protocol a header broke. */
export type ProxyProtocolRule =
  | 'not-proxy-protocol'
  | 'header-too-long'
  | 'malformed-v1'
  | 'unsupported-version'
  | 'unsupported-command'
  | 'malformed-v2';

/**
 * A connection did not start with a valid PROXY protocol header. Its `code` is stable
 * (`ERR_PROXY_PROTOCOL`); `rule` says which check failed.
 */
export class ProxyProtocolError extends SockeyeError {
  override readonly name = 'ProxyProtocolError';
  /** Stable error code. */
  readonly code = 'ERR_PROXY_PROTOCOL';

  /**
   * @param rule - the check that failed
   * @param message - what happened, in words a person can read
   */
  constructor(
    readonly rule: ProxyProtocolRule,
    message: string,
  ) {
    super(message);
  }
}

/** The source a PROXY header announced, or null for `UNKNOWN` / `LOCAL` (use the TCP peer). */
export interface ProxySource {
  /** The client's address. */
  readonly address: string;
  /** The client's port. */
  readonly port: number;
}

/** A complete header: what it said, and the bytes after it (the start of the real stream). */
export interface ProxyHeader {
  /** 1 or 2. */
  readonly version: 1 | 2;
  /** The client, or null when the header carries none (v1 `UNKNOWN`, v2 `LOCAL` or an unsupported family). */
  readonly source: ProxySource | null;
  /** What followed the header in the chunk that completed it. */
  readonly rest: Buffer;
}

/** Version 1's longest line, CRLF included (the specification's own bound). */
export const PROXY_V1_MAX_BYTES = 107;
/** Version 2's fixed part: signature, version and command, family, length. */
const V2_FIXED_BYTES = 16;
const V1_SIGNATURE = Buffer.from('PROXY ', 'latin1');
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
/** Default bound on a version 2 header's variable part (addresses and TLVs). */
export const DEFAULT_PROXY_V2_MAX_BYTES = 1024;

/**
 * Reads one PROXY header from the first bytes of a connection. Feed chunks to
 * {@link ProxyHeaderParser.push} until it returns the header.
 */
export class ProxyHeaderParser {
  private buffered: Buffer = Buffer.alloc(0);

  /** @param maxV2Bytes - most bytes of a v2 header's variable part (addresses and TLVs) */
  constructor(private readonly maxV2Bytes = DEFAULT_PROXY_V2_MAX_BYTES) {}

  /**
   * Add received bytes.
   * @returns the header once complete, or null while more bytes are needed
   * @throws {@link ProxyProtocolError} as soon as the bytes cannot start a valid header
   */
  push(chunk: Buffer): ProxyHeader | null {
    const data = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const header = this.parse(data);
    // Keep at most one header's worth (the bounds below are checked before this grows).
    this.buffered = header === null ? data : Buffer.alloc(0);
    return header;
  }

  private parse(data: Buffer): ProxyHeader | null {
    if (startsLike(data, V2_SIGNATURE)) {
      return data.length < V2_SIGNATURE.length ? null : this.parseV2(data);
    }
    if (startsLike(data, V1_SIGNATURE)) {
      return data.length < V1_SIGNATURE.length ? null : parseV1(data);
    }
    throw new ProxyProtocolError('not-proxy-protocol', 'the connection did not start with a PROXY header');
  }

  private parseV2(data: Buffer): ProxyHeader | null {
    if (data.length < V2_FIXED_BYTES) return null;
    const versionCommand = data[12]!;
    if (versionCommand >> 4 !== 2) {
      throw new ProxyProtocolError('unsupported-version', `PROXY protocol version ${versionCommand >> 4}`);
    }
    const command = versionCommand & 0x0f;
    if (command > 1) throw new ProxyProtocolError('unsupported-command', `PROXY v2 command ${command}`);
    const family = data[13]!;
    const length = data.readUInt16BE(14);
    if (length > this.maxV2Bytes) {
      throw new ProxyProtocolError('header-too-long', `PROXY v2 header of ${length} bytes`);
    }
    const end = V2_FIXED_BYTES + length;
    if (data.length < end) return null;
    const rest = data.subarray(end);
    // LOCAL: the proxy's own connection (a health check): the TCP peer is the client.
    if (command === 0) return { version: 2, source: null, rest };
    const block = data.subarray(V2_FIXED_BYTES, end);
    const transport = family & 0x0f;
    if (transport > 2) throw new ProxyProtocolError('malformed-v2', `PROXY v2 transport ${transport}`);
    switch (family >> 4) {
      case 0: // AF_UNSPEC
        return { version: 2, source: null, rest };
      case 1: // AF_INET: source, destination, source port, destination port
        if (block.length < 12) throw new ProxyProtocolError('malformed-v2', 'PROXY v2 IPv4 block too short');
        return {
          version: 2,
          source: { address: formatIp(block.subarray(0, 4)), port: block.readUInt16BE(8) },
          rest,
        };
      case 2: // AF_INET6
        if (block.length < 36) throw new ProxyProtocolError('malformed-v2', 'PROXY v2 IPv6 block too short');
        return {
          version: 2,
          source: { address: formatIp(block.subarray(0, 16)), port: block.readUInt16BE(32) },
          rest,
        };
      case 3: // AF_UNIX: no IP address to give
        if (block.length < 216) throw new ProxyProtocolError('malformed-v2', 'PROXY v2 UNIX block too short');
        return { version: 2, source: null, rest };
      default:
        throw new ProxyProtocolError('malformed-v2', `PROXY v2 address family ${family >> 4}`);
    }
  }
}

/** Whether `data` and `signature` agree on their common length. */
function startsLike(data: Buffer, signature: Buffer): boolean {
  const length = Math.min(data.length, signature.length);
  return data.compare(signature, 0, length, 0, length) === 0;
}

/** `PROXY TCP4 192.0.2.1 198.51.100.1 56324 443\r\n`, or `PROXY UNKNOWN ...\r\n`. */
function parseV1(data: Buffer): ProxyHeader | null {
  const end = data.indexOf('\r\n');
  if (end === -1) {
    if (data.length >= PROXY_V1_MAX_BYTES) {
      throw new ProxyProtocolError(
        'header-too-long',
        `PROXY v1 line longer than ${PROXY_V1_MAX_BYTES} bytes`,
      );
    }
    return null;
  }
  if (end + 2 > PROXY_V1_MAX_BYTES) {
    throw new ProxyProtocolError('header-too-long', `PROXY v1 line longer than ${PROXY_V1_MAX_BYTES} bytes`);
  }
  const line = data.toString('latin1', 0, end);
  const rest = data.subarray(end + 2);
  const fields = line.split(' ');
  if (fields[1] === 'UNKNOWN') return { version: 1, source: null, rest };
  if (fields.length !== 6) throw new ProxyProtocolError('malformed-v1', 'PROXY v1 line needs 6 fields');
  const [, protocol, source, destination, sourcePort, destinationPort] = fields as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const family = protocol === 'TCP4' ? 4 : protocol === 'TCP6' ? 6 : 0;
  if (family === 0)
    throw new ProxyProtocolError('malformed-v1', `PROXY v1 protocol ${JSON.stringify(protocol)}`);
  if (isIP(source) !== family || isIP(destination) !== family) {
    throw new ProxyProtocolError('malformed-v1', `PROXY v1 addresses are not ${protocol}`);
  }
  const port = parsePort(sourcePort);
  if (port === -1 || parsePort(destinationPort) === -1) {
    throw new ProxyProtocolError('malformed-v1', 'PROXY v1 port out of range');
  }
  return { version: 1, source: { address: source, port }, rest };
}

/** A decimal port without leading zeros, 0 to 65535; -1 otherwise. */
function parsePort(text: string): number {
  if (!/^(0|[1-9][0-9]{0,4})$/.test(text)) return -1;
  const port = Number(text);
  return port <= 65535 ? port : -1;
}
