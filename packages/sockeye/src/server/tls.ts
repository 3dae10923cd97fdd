import type { Socket } from 'node:net';
import { createSecureContext, TLSSocket, type TlsOptions } from 'node:tls';

/** Wraps an accepted TCP socket in a server-side TLS socket. */
export type TlsWrap = (socket: Socket) => TLSSocket;

/**
 * Standalone `wss://`: wrap each accepted TCP socket in a server-side TLSSocket ourselves
 * (rather than use `tls.Server`), so that the handshake deadline runs from the TCP accept
 * and covers the TLS handshake too: `tls.Server`'s own timer starts only once a
 * ClientHello arrives, so a client that connects and stays silent would be held forever.
 * The secure context is built once, not per connection.
 * @internal
 */
export function tlsWrapper(options: TlsOptions): TlsWrap {
  const secureContext = createSecureContext(options);
  const socketOptions: ConstructorParameters<typeof TLSSocket>[1] = { isServer: true, secureContext };
  if (options.requestCert !== undefined) socketOptions.requestCert = options.requestCert;
  if (options.rejectUnauthorized !== undefined) socketOptions.rejectUnauthorized = options.rejectUnauthorized;
  if (options.ALPNProtocols !== undefined) socketOptions.ALPNProtocols = options.ALPNProtocols;
  if (options.SNICallback !== undefined) socketOptions.SNICallback = options.SNICallback;
  return (socket) => new TLSSocket(socket, socketOptions);
}
