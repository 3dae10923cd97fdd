/**
 * permessage-deflate negotiation (RFC 7692 section 7.1): reading and writing the
 * parameters of an offer or a response, the server's answer to an offer and the client's
 * check of that answer. Pure functions of header values and our options, called by
 * `PerMessageDeflate`.
 */
import { HandshakeError } from './errors.js';
import type { ExtensionOffer } from './handshake.js';

/** The extension's token in `Sec-WebSocket-Extensions`. */
export const PERMESSAGE_DEFLATE = 'permessage-deflate';

/** The parameters both ends agreed on (RFC 7692 section 7.1). */
export interface DeflateParameters {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  /** The window limit of the server's compressor, 8-15 (15 when not negotiated). */
  serverMaxWindowBits: number;
  /** The window limit of the client's compressor, 8-15 (15 when not negotiated). */
  clientMaxWindowBits: number;
}

/** What we ask for: `PerMessageDeflateOptions` with its defaults applied. */
export interface NegotiationOptions {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number | undefined;
  clientMaxWindowBits: number | boolean;
}

/** Parameters as written in an offer or a response; `client_max_window_bits` may be `true` in an offer. */
interface RawParams {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number | undefined;
  clientMaxWindowBits: number | true | undefined;
}

/**
 * Read permessage-deflate parameters (RFC 7692 section 7.1). Throws a `SyntaxError` on
 * an unknown or repeated parameter or an invalid value. `client_max_window_bits` may lack
 * a value only in an offer (`inOffer`).
 */
function readParams(params: ExtensionOffer['params'], inOffer: boolean): RawParams {
  const out: RawParams = {
    serverNoContextTakeover: false,
    clientNoContextTakeover: false,
    serverMaxWindowBits: undefined,
    clientMaxWindowBits: undefined,
  };
  const seen = new Set<string>();
  for (const [name, value] of params) {
    if (seen.has(name)) throw new SyntaxError(`parameter ${name} repeated`);
    seen.add(name);
    switch (name) {
      case 'server_no_context_takeover':
      case 'client_no_context_takeover':
        if (value !== true) throw new SyntaxError(`parameter ${name} takes no value`);
        if (name === 'server_no_context_takeover') out.serverNoContextTakeover = true;
        else out.clientNoContextTakeover = true;
        break;
      case 'server_max_window_bits':
        out.serverMaxWindowBits = windowBits(name, value);
        break;
      case 'client_max_window_bits':
        out.clientMaxWindowBits = value === true && inOffer ? true : windowBits(name, value);
        break;
      default:
        throw new SyntaxError(`unknown parameter ${name}`);
    }
  }
  return out;
}

/** A window-bits value: one or two digits without a leading zero, 8 to 15 (RFC 7692 section 7.1.2). */
function windowBits(name: string, value: string | true): number {
  if (value === true || !/^(?:[89]|1[0-5])$/.test(value)) {
    throw new SyntaxError(`parameter ${name} needs a value from 8 to 15`);
  }
  return Number(value);
}

export function checkBits(name: string, bits: number | undefined): void {
  if (bits !== undefined && !(Number.isInteger(bits) && bits >= 8 && bits <= 15)) {
    throw new RangeError(`${name} must be an integer from 8 to 15`);
  }
}

/** Format agreed or offered parameters as one `Sec-WebSocket-Extensions` element. */
function formatParams(params: RawParams): string {
  let value = PERMESSAGE_DEFLATE;
  if (params.serverNoContextTakeover) value += '; server_no_context_takeover';
  if (params.clientNoContextTakeover) value += '; client_no_context_takeover';
  if (params.serverMaxWindowBits !== undefined)
    value += `; server_max_window_bits=${params.serverMaxWindowBits}`;
  if (params.clientMaxWindowBits === true) value += '; client_max_window_bits';
  else if (params.clientMaxWindowBits !== undefined)
    value += `; client_max_window_bits=${params.clientMaxWindowBits}`;
  return value;
}

/**
 * Server side: the first permessage-deflate offer we can honour, answered (RFC 7692
 * section 5: an offer with an unknown or repeated parameter or an invalid value is
 * declined, and the next one is tried). Null when every offer was declined or none made.
 */
export function answerOffer(
  offers: readonly ExtensionOffer[],
  o: NegotiationOptions,
): { responseHeaderValue: string; params: DeflateParameters } | null {
  for (const offer of offers) {
    if (offer.name !== PERMESSAGE_DEFLATE) continue;
    let asked: RawParams;
    try {
      asked = readParams(offer.params, true);
    } catch {
      continue;
    }
    // server_max_window_bits: the client's limit (answered as is or lowered to ours),
    // or ours when it set none (a compressor may always use a smaller window).
    let serverBits = asked.serverMaxWindowBits;
    if (
      o.serverMaxWindowBits !== undefined &&
      (serverBits === undefined || serverBits > o.serverMaxWindowBits)
    ) {
      serverBits = o.serverMaxWindowBits;
    }
    // client_max_window_bits may only be answered when offered (section 7.1.2.2): with
    // our limit, or the client's own value when lower (a smaller inflate window for us).
    let clientBits: number | undefined;
    const ourClientBits = typeof o.clientMaxWindowBits === 'number' ? o.clientMaxWindowBits : 15;
    if (asked.clientMaxWindowBits === true) {
      if (ourClientBits < 15) clientBits = ourClientBits;
    } else if (asked.clientMaxWindowBits !== undefined) {
      clientBits = Math.min(asked.clientMaxWindowBits, ourClientBits);
    }
    const agreed: RawParams = {
      serverNoContextTakeover: asked.serverNoContextTakeover || o.serverNoContextTakeover,
      clientNoContextTakeover: asked.clientNoContextTakeover || o.clientNoContextTakeover,
      serverMaxWindowBits: serverBits,
      clientMaxWindowBits: clientBits,
    };
    return {
      responseHeaderValue: formatParams(agreed),
      params: {
        serverNoContextTakeover: agreed.serverNoContextTakeover,
        clientNoContextTakeover: agreed.clientNoContextTakeover,
        serverMaxWindowBits: serverBits ?? 15,
        clientMaxWindowBits: clientBits ?? 15,
      },
    };
  }
  return null;
}

/** Client side: the `Sec-WebSocket-Extensions` value to offer. */
export function formatOffer(o: NegotiationOptions): string {
  return formatParams({
    serverNoContextTakeover: o.serverNoContextTakeover,
    clientNoContextTakeover: o.clientNoContextTakeover,
    serverMaxWindowBits: o.serverMaxWindowBits,
    clientMaxWindowBits: o.clientMaxWindowBits === false ? undefined : o.clientMaxWindowBits,
  });
}

/**
 * Client side: check the server's answer to {@link formatOffer}. Null when the server did
 * not accept permessage-deflate.
 * @throws {@link HandshakeError} (status 0) when the answer is malformed or does not
 * match the offer
 */
export function checkAnswer(
  extensions: readonly ExtensionOffer[],
  o: NegotiationOptions,
): DeflateParameters | null {
  const accepted = extensions.filter((extension) => extension.name === PERMESSAGE_DEFLATE);
  if (accepted.length === 0) return null;
  const fail = (why: string): never => {
    throw new HandshakeError(0, `Invalid permessage-deflate response: ${why}`);
  };
  if (accepted.length > 1) fail('accepted more than once');
  let got: RawParams;
  try {
    got = readParams(accepted[0]!.params, false);
  } catch (error) {
    return fail((error as Error).message);
  }
  // We asked the server not to take over context: it must agree (section 7.1.1.1).
  if (o.serverNoContextTakeover && !got.serverNoContextTakeover) fail('server_no_context_takeover missing');
  // We limited the server's window: it must answer with that limit or a lower one (section 7.1.2.1).
  if (o.serverMaxWindowBits !== undefined) {
    if (got.serverMaxWindowBits === undefined) fail('server_max_window_bits missing');
    if (got.serverMaxWindowBits! > o.serverMaxWindowBits) fail('server_max_window_bits above the offer');
  }
  // client_max_window_bits only when offered, and within our offer (section 7.1.2.2).
  const clientBits = got.clientMaxWindowBits as number | undefined;
  if (clientBits !== undefined) {
    if (o.clientMaxWindowBits === false) fail('client_max_window_bits was not offered');
    if (typeof o.clientMaxWindowBits === 'number' && clientBits > o.clientMaxWindowBits) {
      fail('client_max_window_bits above the offer');
    }
  }
  return {
    serverNoContextTakeover: got.serverNoContextTakeover,
    clientNoContextTakeover: got.clientNoContextTakeover || o.clientNoContextTakeover,
    serverMaxWindowBits: got.serverMaxWindowBits ?? 15,
    // Without an answer we may use our offered window (a hint, section 7.1.2.2) or any.
    clientMaxWindowBits:
      clientBits ?? (typeof o.clientMaxWindowBits === 'number' ? o.clientMaxWindowBits : 15),
  };
}
