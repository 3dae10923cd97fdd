/**
 * The sans-I/O WebSocket protocol core: RFC 6455 framing, the opening and closing
 * handshakes, masking and UTF-8 validation, with no sockets, timers or promises.
 * @packageDocumentation
 */
export { AssemblyBudget, defaultAssemblyBudget } from './assembly-budget.js';
export { CloseCode, isValidWireCloseCode } from './close-codes.js';
export {
  type CloseFrame,
  type CloseInfo,
  type CloseRecord,
  Connection,
  type ConnectionHandler,
  type ConnectionOptions,
  type ConnectionState,
  checkConnectionOptions,
  type TcpClose,
  truncateUtf8,
} from './connection.js';
export {
  HandshakeError,
  type HandshakeErrorCode,
  InternalError,
  MessageWriterError,
  type MessageWriterMisuse,
  PROTOCOL_RULES,
  ProtocolError,
  type ProtocolRule,
  SockeyeError,
} from './errors.js';
export { type Extension, type PreparedMessage, selectExtension } from './extension.js';
export {
  buildFrame,
  type EncodeHeaderOptions,
  encodeFrameHeader,
  FIN_BIT,
  type FrameHeader,
  headerSize,
  MASK_BIT,
  MAX_HEADER_SIZE,
  RSV1_BIT,
  RSV2_BIT,
  RSV3_BIT,
  writeFrameHeader,
} from './frame.js';
export {
  type AcceptedHandshake,
  type AcceptResponseOptions,
  buildAcceptResponse,
  buildRejectResponse,
  buildRequest,
  type ClientRequestOptions,
  computeAccept,
  type ExtensionOffer,
  formatExtensions,
  generateKey,
  isValidHost,
  isValidKey,
  type OfferedHandshake,
  parseExtensions,
  parseProtocols,
  parseTokenList,
  type UpgradeRequest,
  type UpgradeRequestInfo,
  type UpgradeResponse,
  validateRequest,
  validateResponse,
  WEBSOCKET_GUID,
  WEBSOCKET_VERSION,
} from './handshake.js';
export {
  type HeaderMap,
  HttpHeadParser,
  type HttpHeadParserOptions,
  isFieldValue,
  isToken,
  type ParsedHead,
  type RequestHead,
  type ResponseHead,
} from './http.js';
export * as limits from './limits.js';
export { maskInto, maskSlow, unmask } from './mask.js';
export { isControlOpcode, isKnownOpcode, Opcode, opcodeName } from './opcodes.js';
export {
  COPY_THRESHOLD,
  defaultOutputBuffers,
  nextMaskKey,
  OutputBuffers,
  OutputQueue,
  type Payload,
} from './output.js';
export { type FrameHandler, FrameParser, type FrameParserOptions, type Role } from './parser.js';
export {
  DEFAULT_DEFLATE_LEVEL,
  DEFAULT_DEFLATE_MEM_LEVEL,
  DEFAULT_DEFLATE_THRESHOLD,
  type DeflateAgreement,
  type DeflateParameters,
  DeflatePool,
  DeflateUnavailableError,
  PERMESSAGE_DEFLATE,
  PerMessageDeflate,
  PerMessageDeflateExtension,
  type PerMessageDeflateOptions,
  type ZlibDriverName,
} from './permessage-deflate.js';
export { Utf8Validator } from './utf8.js';
export {
  checkBoolean,
  checkFunction,
  checkInteger,
  checkMaxPayload,
  checkObject,
  checkString,
  MAX_BUFFER_PAYLOAD,
  MAX_TEXT_PAYLOAD,
  MAX_TIMEOUT_MS,
} from './validate.js';
