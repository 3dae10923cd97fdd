/** `sockeye frame decode|encode`: RFC 6455 frames by hand, the seed's masking walkthrough as a tool. */
import { type Command, type Io, UsageError } from '../cli.js';
import { decodeFrames, FrameDecodeError } from '../frame/decode.js';
import { describeFrame } from '../frame/describe.js';
import { closePayload, encodeFrame, FrameEncodeError, parseOpcode } from '../frame/encode.js';
import { formatHex, HexError, parseHex } from '../frame/hex.js';
import { type CommandOptions, didYouMean, parseCommandArgs } from './args.js';

const HELP = `Usage:
  sockeye frame decode <hex>...      (or - / nothing: read the hex from stdin)
  sockeye frame encode [--opcode OP] [--mask KEY] [--no-fin] [--rsv1] [--code N] [--hex] [<payload>]

decode  Read one or more frames given in hex (spaces, ':' and a leading 0x are
        ignored; several arguments are joined) and print every header field, the
        masking key, the payload as masked on the wire, unmasked in hex and as
        text, and the code and reason of a close frame.

encode  Build one frame and print its hex, then the same breakdown as decode.
  --opcode OP   text (default), binary, continuation, ping, pong, close, or a number (0x9)
  --mask KEY    mask with this 4-byte key in hex (08f6efb1), as a client must
  --no-fin      clear FIN: the message continues in further frames
  --rsv1        set RSV1 (permessage-deflate's "compressed" bit)
  --code N      for --opcode close: the status code; <payload> is then the reason
  --hex         <payload> is hex bytes, not text

Examples:
  sockeye frame decode 818f08f6efb1ee7e7e5790590629b713412ced654a
  sockeye frame decode "81 85 37 fa 21 3d 7f 9f 4d 51 58"
  sockeye frame encode --mask 37fa213d Hello | head -1 | sockeye frame decode -
  sockeye frame encode --mask 08f6efb1 我是阿宝哥
  sockeye frame encode --opcode binary --hex "de ad be ef"
  sockeye frame encode --opcode close --code 1000 bye
  sockeye frame encode --opcode text --no-fin Hel

Exit code: 0 when the input is decoded or encoded, 2 for bad arguments or bytes
that are not a frame (one line on stderr says why).`;

/**
 * Most hex `frame decode` reads from stdin: 2 MiB of text, a 1 MiB frame written as
 * plain hex pairs (more with separators is refused, not buffered).
 */
export const MAX_STDIN_BYTES = 2 * 1024 * 1024;

async function decode(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {});
  if (values.help) return help(io);
  let hex: string;
  if (positionals.length === 0 || (positionals.length === 1 && positionals[0] === '-')) {
    if (positionals.length === 0 && io.stdin.isTTY) {
      throw new UsageError('frame decode: give the frame bytes in hex (or pipe them in)');
    }
    hex = await io.stdin.readAll(MAX_STDIN_BYTES);
  } else {
    hex = positionals.join(' ');
  }
  try {
    const frames = decodeFrames(parseHex(hex));
    frames.forEach((frame, index) => {
      if (index > 0) io.out('');
      for (const line of describeFrame(frame, index, io.style)) io.out(line);
    });
    return 0;
  } catch (error) {
    if (error instanceof HexError || error instanceof FrameDecodeError) {
      throw new UsageError(`frame decode: ${error.message}`);
    }
    throw error;
  }
}

const ENCODE_OPTIONS = {
  opcode: { type: 'string' },
  mask: { type: 'string' },
  'no-fin': { type: 'boolean' },
  rsv1: { type: 'boolean' },
  code: { type: 'string' },
  hex: { type: 'boolean' },
} as const;

function encode(args: string[], io: Io): number {
  const { values, positionals } = parse(args, ENCODE_OPTIONS);
  if (values.help) return help(io);
  if (positionals.length > 1) {
    throw new UsageError(`frame encode: one payload argument expected, got ${positionals.length} (quote it)`);
  }
  try {
    const opcode = parseOpcode(values.opcode ?? 'text');
    const given = positionals[0] ?? '';
    let payload: Buffer = values.hex
      ? given === ''
        ? Buffer.alloc(0)
        : parseHex(given)
      : Buffer.from(given);
    if (values.code !== undefined) {
      if (opcode !== 0x8) throw new UsageError('frame encode: --code goes with --opcode close');
      if (!/^[0-9]+$/.test(values.code))
        throw new UsageError(`frame encode: --code ${values.code} is not a number`);
      payload = closePayload(Number(values.code), payload.toString('utf8'));
    }
    let maskKey: Buffer | undefined;
    if (values.mask !== undefined) {
      maskKey = parseHex(values.mask);
      if (maskKey.length !== 4) {
        throw new UsageError(`frame encode: --mask takes 4 bytes (8 hex digits), got ${maskKey.length}`);
      }
    }
    const frame = encodeFrame({
      opcode,
      payload,
      fin: values['no-fin'] !== true,
      rsv1: values.rsv1 === true,
      ...(maskKey === undefined ? {} : { maskKey }),
    });
    io.out(formatHex(frame, ''));
    io.out('');
    const [decoded] = decodeFrames(frame);
    for (const line of describeFrame(decoded!, 0, io.style)) io.out(line);
    return 0;
  } catch (error) {
    if (error instanceof HexError || error instanceof FrameEncodeError) {
      throw new UsageError(`frame encode: ${error.message}`);
    }
    throw error;
  }
}

/** parseArgs with `--help`, turning its errors into one-line usage errors. */
function parse<O extends CommandOptions>(args: string[], options: O) {
  return parseCommandArgs('frame', args, options);
}

/** `did you mean decode? ` for a mistyped subcommand, or nothing. */
function didYouMeanSub(word: string | undefined): string {
  const guess = word === undefined ? null : didYouMean(word, ['decode', 'encode']);
  return guess === null ? '' : `did you mean ${guess}? `;
}

function help(io: Io): number {
  io.out(HELP);
  return 0;
}

/** The `frame` command. */
export const frameCommand: Command = {
  name: 'frame',
  summary: 'decode a WebSocket frame from hex, or encode one from its fields',
  help: HELP,
  run(args, io) {
    const [sub, ...rest] = args;
    switch (sub) {
      case 'decode':
        return decode(rest, io);
      case 'encode':
        return encode(rest, io);
      case undefined:
        help(io);
        return 2;
      case '--help':
      case '-h':
        return help(io);
      default:
        throw new UsageError(
          `frame: unknown subcommand ${JSON.stringify(sub)}: ${didYouMeanSub(sub)}use decode or encode`,
        );
    }
  },
};
