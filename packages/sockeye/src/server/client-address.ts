/**
 * The real client address: IP parsing, address groups for per-address limits (IPv6 by
 * prefix), trusted proxies given as CIDRs, and the `Forwarded` / `X-Forwarded-For` chain.
 * @packageDocumentation
 */
import { isIPv4 } from 'node:net';
import type { HeaderMap } from '../protocol/index.js';

/** An IP address as bytes: 4 for IPv4, 16 for IPv6. */
type IpBytes = Uint8Array;

/** Most hops of a `Forwarded` / `X-Forwarded-For` chain looked at (the header is bounded anyway). */
const MAX_HOPS = 64;

/**
 * Parse an IPv4 or IPv6 address (a zone such as `%eth0` is ignored). An IPv4-mapped IPv6
 * address (`::ffff:192.0.2.1`, as a dual-stack socket reports IPv4 peers) is the IPv4
 * address. Returns null for anything else.
 */
export function parseIp(text: string): IpBytes | null {
  if (isIPv4(text)) return parseIPv4(text);
  const zone = text.indexOf('%');
  const bytes = parseIPv6(zone === -1 ? text : text.slice(0, zone));
  if (bytes === null) return null;
  if (isMapped(bytes)) return bytes.slice(12);
  return bytes;
}

function parseIPv4(text: string): IpBytes | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  const bytes = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const part = parts[i]!;
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part)) return null;
    const value = Number(part);
    if (value > 255) return null;
    bytes[i] = value;
  }
  return bytes;
}

function parseIPv6(text: string): IpBytes | null {
  if (text.length < 2 || text.length > 45) return null;
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const groupsOf = (half: string): number[] | null => {
    if (half === '') return [];
    const groups: number[] = [];
    const parts = half.split(':');
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i]!;
      if (i === parts.length - 1 && part.includes('.')) {
        const v4 = parseIPv4(part);
        if (v4 === null) return null;
        groups.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(part)) return null;
        groups.push(Number.parseInt(part, 16));
      }
    }
    return groups;
  };
  const head = groupsOf(halves[0]!);
  const tail = halves.length === 2 ? groupsOf(halves[1]!) : [];
  if (head === null || tail === null) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const groups = [...head, ...new Array<number>(missing).fill(0), ...tail];
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    bytes[2 * i] = groups[i]! >> 8;
    bytes[2 * i + 1] = groups[i]! & 0xff;
  }
  return bytes;
}

function isMapped(bytes: IpBytes): boolean {
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
}

/** An address in its usual text form (IPv4 dotted, IPv6 compressed lower case). */
export function formatIp(bytes: IpBytes): string {
  if (bytes.length === 4) return bytes.join('.');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  // The longest run of two or more zero groups becomes `::` (RFC 5952).
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((group) => group.toString(16));
  if (bestStart === -1) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/**
 * The canonical text of an address (IPv4-mapped IPv6 as IPv4, IPv6 compressed), or the
 * text unchanged when it is not an IP address.
 */
export function normalizeIp(text: string): string {
  // Dotted IPv4, as a socket reports an IPv4 peer, is already canonical (`isIPv4` takes no
  // leading zeros): no parse and format on every handshake.
  if (isIPv4(text)) return text;
  const bytes = parseIp(text);
  if (bytes === null) return text;
  const formatted = formatIp(bytes);
  // The same text: keep the one given (the socket's cached peer address), not a copy per connection.
  return formatted === text ? text : formatted;
}

/**
 * The group an address is counted in by per-address limits: an IPv4 address is its own
 * group; an IPv6 address is grouped with the others of its `/ipv6Prefix` network (one
 * subscriber usually holds a whole /64, so counting single IPv6 addresses limits nothing).
 */
export function addressGroup(address: string, ipv6Prefix: number): string {
  const bytes = parseIp(address);
  if (bytes === null) return address;
  if (bytes.length === 4) return formatIp(bytes);
  return `${formatIp(maskBytes(bytes, ipv6Prefix))}/${ipv6Prefix}`;
}

function maskBytes(bytes: IpBytes, prefix: number): IpBytes {
  const masked = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) {
    const bits = Math.max(0, Math.min(8, prefix - 8 * i));
    masked[i] = bytes[i]! & ((0xff << (8 - bits)) & 0xff);
  }
  return masked;
}

/**
 * A set of networks given as CIDRs (`10.0.0.0/8`, `fd00::/8`) or single addresses
 * (`127.0.0.1`, `::1`): the proxies whose word on the client address is trusted.
 */
export class AddressSet {
  private readonly networks: Array<{ bytes: IpBytes; prefix: number }> = [];

  /** @throws TypeError naming `option` for an entry that is not an address or CIDR */
  constructor(entries: readonly string[], option = 'trustProxy') {
    if (!Array.isArray(entries)) throw new TypeError(`${option} must be an array of addresses or CIDRs`);
    for (const entry of entries) {
      if (typeof entry !== 'string') throw new TypeError(`${option}: ${String(entry)} is not a string`);
      const slash = entry.indexOf('/');
      const bytes = parseIp(slash === -1 ? entry : entry.slice(0, slash));
      if (bytes === null)
        throw new TypeError(`${option}: ${JSON.stringify(entry)} is not an address or CIDR`);
      const bits = bytes.length * 8;
      // A prefix on an IPv4-mapped IPv6 CIDR counts from the IPv4 part.
      let prefix = bits;
      if (slash !== -1) {
        const text = entry.slice(slash + 1);
        prefix = /^[0-9]{1,3}$/.test(text) ? Number(text) : Number.NaN;
        if (bytes.length === 4 && entry.includes(':')) prefix -= 96;
        if (!(prefix >= 0 && prefix <= bits)) {
          throw new TypeError(`${option}: ${JSON.stringify(entry)} has an invalid prefix length`);
        }
      }
      this.networks.push({ bytes: maskBytes(bytes, prefix), prefix });
    }
  }

  /** Whether `address` is in one of the networks. */
  has(address: string | undefined): boolean {
    if (address === undefined || this.networks.length === 0) return false;
    const bytes = parseIp(address);
    if (bytes === null) return false;
    for (const network of this.networks) {
      if (network.bytes.length !== bytes.length) continue;
      const masked = maskBytes(bytes, network.prefix);
      if (masked.every((byte, i) => byte === network.bytes[i])) return true;
    }
    return false;
  }
}

/**
 * The client's address as the request tells it: `peer` (the TCP peer, or the address a
 * PROXY protocol header gave) unless it is a trusted proxy. From a trusted proxy, the
 * `Forwarded` header (RFC 7239; or, without one, `X-Forwarded-For`) is read from the
 * right, the nearest hop first: each trusted proxy is skipped, and the first address that
 * is not one is the client. A hop that is not an IP address (`unknown`, an obfuscated
 * name) ends the walk at the proxy that reported it. Headers from a peer that is not
 * trusted are ignored: anybody can send them.
 */
export function resolveClientAddress(
  peer: string | undefined,
  headers: HeaderMap,
  trusted: AddressSet | null,
): string {
  const address = normalizeIp(peer ?? '');
  if (trusted === null || !trusted.has(address)) return address;
  const forwarded = headers.forwarded;
  const hops = forwarded !== undefined ? forwardedFor(forwarded) : forwardedList(headers['x-forwarded-for']);
  let client = address;
  for (let i = hops.length - 1; i >= Math.max(0, hops.length - MAX_HOPS); i--) {
    const hop = parseIp(hops[i]!);
    if (hop === null) return client;
    client = formatIp(hop);
    if (!trusted.has(client)) return client;
  }
  return client;
}

function joined(value: string | readonly string[] | undefined): string {
  if (value === undefined) return '';
  return typeof value === 'string' ? value : value.join(',');
}

/** The `X-Forwarded-For` addresses, leftmost (farthest) first. */
function forwardedList(value: string | readonly string[] | undefined): string[] {
  const text = joined(value).trim();
  if (text === '') return [];
  return text.split(',').map((hop) => hop.trim());
}

/** The `for=` nodes of a `Forwarded` header (RFC 7239 section 4), leftmost first, ports and brackets removed. */
function forwardedFor(value: string | readonly string[]): string[] {
  const nodes: string[] = [];
  for (const element of splitOutsideQuotes(joined(value), ',')) {
    let node = '';
    for (const pair of splitOutsideQuotes(element, ';')) {
      const equals = pair.indexOf('=');
      if (equals === -1 || pair.slice(0, equals).trim().toLowerCase() !== 'for') continue;
      node = pair.slice(equals + 1).trim();
    }
    if (node.startsWith('"') && node.endsWith('"') && node.length >= 2) node = node.slice(1, -1);
    nodes.push(stripPort(node));
  }
  return nodes;
}

/** `[2001:db8::1]:4711` → `2001:db8::1`; `192.0.2.1:80` → `192.0.2.1`; anything else unchanged. */
function stripPort(node: string): string {
  if (node.startsWith('[')) {
    const end = node.indexOf(']');
    return end === -1 ? node : node.slice(1, end);
  }
  const colon = node.indexOf(':');
  return colon !== -1 && node.indexOf(':', colon + 1) === -1 ? node.slice(0, colon) : node;
}

function splitOutsideQuotes(text: string, separator: string): string[] {
  const parts: string[] = [];
  let quoted = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (char === '"') quoted = !quoted;
    else if (char === '\\' && quoted) i++;
    else if (char === separator && !quoted) {
      parts.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  parts.push(text.slice(start).trim());
  return parts;
}
