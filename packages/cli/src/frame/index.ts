/**
 * Frame tools: decode frames for people to read, encode frames from fields, hex in and out.
 * @packageDocumentation
 */
export {
  type ClosePayload,
  type DecodedFrame,
  decodeFrameAt,
  decodeFrames,
  FrameDecodeError,
  opcodeName,
  parseClosePayload,
} from './decode.js';
export { describeFrame } from './describe.js';
export {
  closePayload,
  encodeFrame,
  FrameEncodeError,
  type FrameFields,
  OPCODES_BY_NAME,
  parseOpcode,
} from './encode.js';
export { formatHex, HexError, parseHex } from './hex.js';
