/**
 * Server under test: sockeye. `--port P [--host H]`, prints `listening on ws://H:P`, echoes.
 *
 * For now this is the conformance echo server (a shell on the protocol core that batches
 * the replies of one read). When WebSocketServer lands, point this line at a server built
 * on it: that is the only change the benchmark needs.
 */
import '../../conformance/echo-server.js';
