/**
 * Every bound that untrusted input can push against, with its default and the reason
 * for it. The defaults are safe for a server facing the internet (like Python
 * `websockets`), not generous (like `ws`'s 100 MiB messages). Raise them per server or
 * per client where the application needs it; the conformance echo server does.
 */

/**
 * Largest message accepted, in bytes, counted after reassembly and (with
 * permessage-deflate) after decompression. A bigger message fails the connection with
 * 1009. 1 MiB: enough for any JSON message a UI sends; a peer that needs more should
 * say so in configuration, not discover it under attack.
 */
export const DEFAULT_MAX_PAYLOAD = 1024 * 1024;

/**
 * Largest message the browser-compatible clients (`WebSocket`, `WebSocketStream`) accept
 * by default: 64 MiB. A browser takes whatever its memory allows, so a script written for
 * one expects a message of several MiB to arrive (`ws` defaults to 100 MiB); a client
 * talks to a server it chose, not to the whole internet. Decompression is bounded by it
 * as it runs, so a compressed message cannot make a client hold more.
 */
export const DEFAULT_CLIENT_MAX_PAYLOAD = 64 * 1024 * 1024;

/**
 * Memory charged for every buffered part of a message (a fragment or a network chunk)
 * on top of its payload bytes, when counting a message against `maxPayload`. A `Buffer`
 * view costs about 100 bytes of heap plus its slot in an array, so without this charge a
 * peer sending a million one-byte fragments would pin ~128 MB while "using" 1 MB of
 * budget (the 2026 `ws` advisories GHSA-96hv-2xvq-fx4p and ws#2331).
 */
export const PART_OVERHEAD = 128;

/**
 * Most frames one message may be split into. 4096: a 1 MiB message in fragments of
 * 256 bytes or more fits; browsers never fragment, and libraries that do use kilobytes.
 * The per-part charge above bounds memory anyway; this bounds CPU spent on a message
 * that is only fragment headers.
 */
export const DEFAULT_MAX_FRAGMENTS = 4096;

/**
 * Largest opening handshake (request line and headers) accepted, in bytes. 16 KiB is
 * Node's own `--max-http-header-size` default; a larger one is answered 431.
 */
export const DEFAULT_MAX_HANDSHAKE_BYTES = 16 * 1024;

/**
 * Most header lines accepted in an opening handshake. Browsers send about 15; 100 leaves
 * room for proxies. More is answered 431.
 */
export const DEFAULT_MAX_HANDSHAKE_HEADERS = 100;

/**
 * Time allowed for the opening handshake, from TCP accept (server) or connect (client)
 * to the 101 response, in milliseconds. 10 s, as Python `websockets`: a slow-loris
 * client that trickles its request is dropped after this.
 */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;

/**
 * Time allowed for the closing handshake, in milliseconds: after sending a close frame,
 * how long to wait for the peer's close (and, on a client, for the server to close TCP)
 * before dropping the connection. 10 s, as Python `websockets`.
 */
export const DEFAULT_CLOSE_TIMEOUT_MS = 10_000;

/**
 * Most outbound bytes buffered per connection (handed to `send()`, not yet accepted by
 * the socket). 16 MiB: a peer that stops reading cannot make the server hold more than
 * this for it; what happens past it is the server's backpressure policy.
 */
export const DEFAULT_MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

/**
 * Buffered outbound bytes per connection above which a server `send()` reports `queued`
 * (accepted, but the peer is not keeping up: wait for `drain`) and the server stops
 * reading from that peer until its output drains. 64 KiB: a few socket buffers' worth,
 * so a slow reader is noticed early, and a client that floods pings without reading the
 * pongs cannot make the server hold more than this plus one read's worth of pongs. The
 * clients (`WebSocket`, `WebSocketStream`, `sockeye connect`) use it the other way round:
 * they stop reading while more than this many bytes of pongs wait to be written.
 */
export const DEFAULT_HIGH_WATER_MARK = 64 * 1024;

/**
 * Most received messages a client holds as events not yet dispatched (the WHATWG
 * `WebSocket`; the `ws` layer with `allowSynchronousEvents: false`) before it stops
 * reading the socket until they are dispatched, as `ws` does. 1024: a peer sending many
 * tiny messages in one burst then holds at most this many, plus the messages of the read
 * being processed (at most 32 768 in a 64 KiB read), instead of one event and closure per
 * message of every read until the handlers catch up.
 */
export const MAX_QUEUED_MESSAGE_EVENTS = 1024;

/**
 * Most payload bytes of received messages a client holds as events not yet dispatched
 * before it stops reading the socket (see {@link MAX_QUEUED_MESSAGE_EVENTS}). 1 MiB: a
 * compressed burst (a few bytes per large message) cannot make it hold more than this plus
 * what one read inflates to.
 */
export const MAX_QUEUED_MESSAGE_BYTES = 1024 * 1024;

/**
 * Interval between heartbeat pings, in milliseconds. 30 s keeps NAT and load balancer
 * mappings alive (most drop idle TCP flows after 60 s or more).
 */
export const DEFAULT_PING_INTERVAL_MS = 30_000;

/**
 * Time a peer has to answer a heartbeat ping with a pong before it is considered dead
 * and dropped (reported with close code 1006), in milliseconds.
 */
export const DEFAULT_PONG_TIMEOUT_MS = 30_000;

/** Largest payload of a control frame (RFC 6455 section 5.5). Not configurable. */
export const MAX_CONTROL_PAYLOAD = 125;

/** Largest close reason in bytes: a control payload minus the 2-byte code. Not configurable. */
export const MAX_CLOSE_REASON_BYTES = 123;

/**
 * Most bytes of message buffers allocated early, across the connections of one owner (a
 * server, or the clients of a process): a large single frame gets one buffer of its exact
 * size once an eighth of it has arrived (see `AssemblyBudget`), so without a bound across
 * connections a peer opening many of them could make us allocate eight times what it sends.
 * 64 MiB: 64 messages of 1 MiB at once; past it a frame's reads are held as they are and
 * joined when the frame is complete, as `ws` does, so memory follows the bytes received.
 */
export const DEFAULT_EARLY_ASSEMBLY_BYTES = 64 * 1024 * 1024;
