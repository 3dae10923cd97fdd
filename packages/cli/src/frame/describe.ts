/** A decoded frame as the aligned field-by-field breakdown that `sockeye frame` prints. */
import { CloseCode } from '@sockeye/sockeye/protocol';
import type { Style } from '../cli.js';
import { type DecodedFrame, opcodeName } from './decode.js';
import { formatHex } from './hex.js';

/** Payloads longer than this are shown in part (the count of the rest is printed). */
const SHOWN_BYTES = 1024;

const CLOSE_NAMES = new Map<number, string>(Object.entries(CloseCode).map(([name, code]) => [code, name]));

const PLAIN: Style = { label: (t) => t, accent: (t) => t, dim: (t) => t };

function shownHex(bytes: Buffer): string {
  const hex = formatHex(bytes.subarray(0, SHOWN_BYTES));
  return bytes.length > SHOWN_BYTES ? `${hex} ... (${bytes.length - SHOWN_BYTES} more bytes)` : hex;
}

function bit(value: boolean, style: Style, meaning: string): string {
  return value ? `${style.accent('1')}  ${style.dim(meaning)}` : '0';
}

/**
 * The lines describing `frame`: every header field, the masking key, the payload as
 * masked on the wire, unmasked in hex and as text, a close frame's code and reason, and
 * any rule of RFC 6455 the frame breaks.
 */
export function describeFrame(frame: DecodedFrame, index: number, style: Style = PLAIN): string[] {
  const rows: Array<[string, string]> = [
    [
      'FIN',
      frame.fin ? `1  ${style.dim('final frame of its message')}` : `0  ${style.dim('more frames follow')}`,
    ],
    ['RSV1', bit(frame.rsv1, style, 'compressed (permessage-deflate)')],
    ['RSV2', bit(frame.rsv2, style, 'no extension sockeye knows sets it')],
    ['RSV3', bit(frame.rsv3, style, 'no extension sockeye knows sets it')],
    ['opcode', `0x${frame.opcode.toString(16)}  ${opcodeName(frame.opcode)}`],
    ['MASK', frame.masked ? `1  ${style.dim('client to server')}` : `0  ${style.dim('server to client')}`],
    ['payload length', String(frame.payloadLength)],
  ];
  if (frame.maskKey !== null && frame.maskedPayload !== null) {
    rows.push(['masking key', formatHex(frame.maskKey)]);
    rows.push(['masked payload', shownHex(frame.maskedPayload)]);
    rows.push(['payload (hex)', `${shownHex(frame.payload)}  ${style.dim('each byte i XOR key[i mod 4]')}`]);
  } else {
    rows.push(['payload (hex)', shownHex(frame.payload)]);
  }
  if (frame.close !== null) {
    const { code, reason } = frame.close;
    if (code !== null) {
      const name = CLOSE_NAMES.get(code);
      rows.push(['close code', name === undefined ? String(code) : `${code}  ${style.dim(name)}`]);
      rows.push(['close reason', JSON.stringify(reason)]);
    } else {
      rows.push(['close code', style.dim('none (empty close payload)')]);
    }
  } else if (frame.payload.length > 0) {
    const text =
      frame.text === null
        ? style.dim('not valid UTF-8')
        : JSON.stringify(
            frame.text.length > SHOWN_BYTES ? `${frame.text.slice(0, SHOWN_BYTES)}...` : frame.text,
          );
    rows.push(['payload (text)', text]);
  }
  for (const violation of frame.violations)
    rows.push(['warning', style.accent(`breaks RFC 6455: ${violation}`)]);

  const width = Math.max(...rows.map(([label]) => label.length));
  return [
    `frame ${index + 1}: ${frame.size} bytes at offset ${frame.offset} ` +
      `(header ${frame.headerSize}, payload ${frame.payloadLength})`,
    ...rows.map(([label, value]) => `  ${style.label(label.padEnd(width))}  ${value}`),
  ];
}
