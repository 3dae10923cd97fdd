/**
 * Where the demo server serves each socket. Pages and sockets share one host and port,
 * so a page builds its socket URL from its own location plus one of these paths.
 */

/** The echo socket: every message comes back with its type. With `?session=<id>` it is also inspected. */
export const ECHO_PATH = '/ws/echo';
/** The frame inspector's feed socket (see `inspector.ts`). */
export const INSPECTOR_FEED_PATH = '/ws/inspector';
/** The chat room's socket (see `chat.ts`). */
export const CHAT_PATH = '/ws/chat';
/** The sink socket: reads every message and answers none (the backpressure chart's target). */
export const SINK_PATH = '/ws/sink';
/** The Reconnect page's socket: a resumable session that ticks and echoes (add `?tab=<id>`). */
export const RECONNECT_PATH = '/ws/reconnect';
/** The control endpoint of the Reconnect page's buttons (`POST /control/cut?tab=…`, `/blackhole`, `/restart`). */
export const CONTROL_PATH = '/control';
