/**
 * Pure helpers of the page scripts (no DOM access), so they can be tested under Node.
 */

/**
 * The WebSocket URL for `path` on the server that served the page: same host and port,
 * `wss:` when the page came over https. The demo server serves pages and sockets on one port.
 */
export function socketUrl(pageHref: string, path: string, params: Record<string, string> = {}): string {
  const url = new URL(path, pageHref);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.hash = '';
  url.search = '';
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  return url.href;
}

/** Bytes as spaced lower-case hex pairs, `e6 88 91`; longer inputs end with a count of the rest. */
export function spacedHex(bytes: Uint8Array, max = 256): string {
  const parts: string[] = [];
  const shown = Math.min(bytes.length, max);
  for (let i = 0; i < shown; i++) parts.push(bytes[i]!.toString(16).padStart(2, '0'));
  const hex = parts.join(' ');
  return bytes.length > max ? `${hex} … (${bytes.length - max} more bytes)` : hex;
}

/** `text` cut to `max` characters (whole code points), with a count of the rest. */
export function shortText(text: string, max = 2000): string {
  const chars = [...text];
  const rest = chars.length - max;
  if (rest <= 0) return text;
  return `${chars.slice(0, max).join('')} … (${rest} more character${rest === 1 ? '' : 's'})`;
}

/** Lower-case hex without separators (as in the inspector's records) spaced into pairs. */
export function spaceHexString(hex: string): string {
  return (hex.match(/../g) ?? []).join(' ');
}

/** Subprotocols typed by a person, `chat, superchat`, as the list `new WebSocket` takes. */
export function parseProtocolList(text: string): string[] {
  return text
    .split(/[\s,]+/)
    .map((token) => token.trim())
    .filter((token) => token !== '');
}

/** The name of a `WebSocket.readyState`. */
export function readyStateName(state: number): 'connecting' | 'open' | 'closing' | 'closed' {
  return (['connecting', 'open', 'closing', 'closed'] as const)[state] ?? 'closed';
}

/** A close event for people: `1000 (normal closure) "bye"`, `1006 (connection lost, no close frame)`. */
export function describeClose(code: number, reason: string, wasClean: boolean): string {
  const names: Record<number, string> = {
    1000: 'normal closure',
    1001: 'going away',
    1002: 'protocol error',
    1003: 'unsupported data',
    1005: 'no status code',
    1006: 'connection lost, no close frame',
    1007: 'invalid payload',
    1008: 'policy violation',
    1009: 'message too big',
    1011: 'server error',
  };
  const name = names[code];
  let text = name === undefined ? String(code) : `${code} (${name})`;
  if (reason !== '') text += ` ${JSON.stringify(reason)}`;
  if (!wasClean && code !== 1006) text += ', not clean';
  return text;
}
