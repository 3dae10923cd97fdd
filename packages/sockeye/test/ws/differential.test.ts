/**
 * `@sockeye/sockeye/ws` against `ws` itself: each script runs with `ws` on both ends, then with the
 * layer as server, as client and as both, and each end must observe the same events, in
 * the same order, with the same arguments. `ws`'s doc/ws.md is the specification.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { type AddressInfo, createServer as createNetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { ClientOptions, MessageEvent, ServerOptions, WebSocket as WS } from 'ws';
import { opensslMissing, selfSignedCertificate } from '../../../../scripts/lib/tls.js';
import { type Context, closeServer, listen, once, run, type Script, SUBJECTS, wsImpl } from './harness.js';

const HANG_GUARD = { timeout: 20_000 };

/** Run `script` with every pair and compare with the reference. */
async function differential(script: Script): Promise<void> {
  const reference = await run(script, wsImpl, wsImpl);
  assert.ok(reference.server.length + reference.client.length > 0, 'the script observed nothing');
  for (const [server, client] of SUBJECTS) {
    const observed = await run(script, server, client);
    assert.deepEqual(observed, reference, `server ${server.name}, client ${client.name}`);
  }
}

/** Log every event of a socket, on one end. */
function watch(ws: WS, log: (...entry: unknown[]) => void): Promise<void> {
  ws.on('message', (data, isBinary) => log('message', data, isBinary));
  ws.on('ping', (data) => log('ping', data));
  ws.on('pong', (data) => log('pong', data));
  ws.on('error', (error) => log('error', error, ws.readyState));
  return new Promise((resolve) =>
    ws.on('close', (code, reason) => {
      log('close', code, reason, ws.readyState);
      resolve();
    }),
  );
}

/** A server whose sockets run `onConnection`; a client that runs `onOpen`; both watched. */
async function pair(
  { server, client, s, c }: Context,
  options: {
    serverOptions?: ServerOptions;
    path?: string;
    protocols?: string[];
    clientOptions?: ClientOptions;
    onConnection?: (ws: WS) => void;
    onOpen?: (ws: WS) => void;
  } = {},
): Promise<void> {
  const { wss, url } = await listen(server, options.serverOptions);
  let serverDone: Promise<void> = Promise.resolve();
  wss.on('connection', (ws, request) => {
    s('connection', request.url, ws.protocol, ws.extensions, ws.readyState);
    serverDone = watch(ws, s);
    options.onConnection?.(ws);
  });
  const ws = new client.WebSocket(
    `${url}${options.path ?? '/'}`,
    options.protocols ?? [],
    options.clientOptions,
  );
  ws.on('open', () => {
    c('open', ws.protocol, ws.extensions, ws.readyState);
    options.onOpen?.(ws);
  });
  ws.on('unexpected-response', (_request, response) => {
    c('unexpected-response', response.statusCode);
    ws.terminate();
  });
  await watch(ws, c);
  await serverDone;
  await closeServer(wss);
}

describe('sockeye/ws behaves as ws', () => {
  it(
    'echoes text, binary and empty messages, then the client closes with a code and reason',
    HANG_GUARD,
    () =>
      differential((context) =>
        pair(context, {
          path: '/chat?room=1',
          onConnection: (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })),
          onOpen: (ws) => {
            ws.send('hello');
            ws.send(Buffer.from([1, 2, 3]));
            ws.send('');
            let replies = 0;
            ws.on('message', () => {
              if (++replies === 3) ws.close(1000, 'bye');
            });
          },
        }),
      ),
  );

  it('the server closes with a code and a reason after a message', HANG_GUARD, () =>
    differential((context) =>
      pair(context, {
        onConnection: (ws) => {
          ws.send('hi');
          ws.close(4001, 'done');
          context.s('readyState after close()', ws.readyState);
        },
      }),
    ),
  );

  it('a close without a code is reported as 1005 on both ends', HANG_GUARD, () =>
    differential((context) => pair(context, { onOpen: (ws) => ws.close() })),
  );

  it('terminate() is reported as 1006 on both ends', HANG_GUARD, () =>
    differential((context) =>
      pair(context, {
        onConnection: (ws) => ws.on('message', () => ws.terminate()),
        onOpen: (ws) => ws.send('go'),
      }),
    ),
  );

  it('pings and pongs, with payloads and automatic answers', HANG_GUARD, () =>
    differential((context) =>
      pair(context, {
        onConnection: (ws) => {
          ws.on('pong', () => ws.close(1000));
          ws.on('ping', () => ws.ping(Buffer.from('from server')));
        },
        onOpen: (ws) => ws.ping('abc'),
      }),
    ),
  );

  it('selects the first offered subprotocol by default', HANG_GUARD, () =>
    differential((context) =>
      pair(context, { protocols: ['chat', 'superchat'], onOpen: (ws) => ws.close(1000) }),
    ),
  );

  it('handleProtocols picks a subprotocol from the Set offered', HANG_GUARD, () =>
    differential((context) =>
      pair(context, {
        protocols: ['chat', 'superchat'],
        serverOptions: {
          handleProtocols: (protocols, request) => {
            context.s('handleProtocols', [...protocols], request.url);
            return 'superchat';
          },
        },
        onOpen: (ws) => ws.close(1000),
      }),
    ),
  );

  it('verifyClient returning false refuses with 401', HANG_GUARD, () =>
    differential((context) =>
      pair(context, {
        serverOptions: {
          verifyClient: (info: { origin: string; secure: boolean; req: IncomingMessage }) => {
            context.s('verifyClient', info.origin, info.secure, info.req.url);
            return false;
          },
        },
      }),
    ),
  );

  it(
    'asynchronous verifyClient refuses with its status (no unexpected-response listener: error)',
    HANG_GUARD,
    () =>
      differential(async ({ server, client, s, c }) => {
        const { wss, url } = await listen(server, {
          verifyClient: (
            _info: unknown,
            done: (result: boolean, code?: number, message?: string, headers?: OutgoingHttpHeaders) => void,
          ) => setImmediate(() => done(false, 403, 'Forbidden here', { 'X-Why': 'no' })),
        });
        wss.on('connection', () => s('connection'));
        const ws = new client.WebSocket(url, { origin: 'https://example.com' });
        await watch(ws, c);
        await closeServer(wss);
      }),
  );

  it('asynchronous verifyClient accepts', HANG_GUARD, () =>
    differential((context) =>
      pair(context, {
        serverOptions: {
          verifyClient: (_info: unknown, done: (result: boolean) => void) => setImmediate(() => done(true)),
        },
        onOpen: (ws) => ws.close(1000, 'ok'),
      }),
    ),
  );

  it('a path other than the path option is refused with 400', HANG_GUARD, () =>
    differential((context) => pair(context, { path: '/other', serverOptions: { path: '/ws' } })),
  );

  it(
    'a message over maxPayload: error WS_ERR_UNSUPPORTED_MESSAGE_LENGTH, 1009 to the peer, 1006 here',
    HANG_GUARD,
    () =>
      differential((context) =>
        pair(context, {
          serverOptions: { maxPayload: 8 },
          onOpen: (ws) => ws.send('123456789'),
        }),
      ),
  );

  it(
    'send callbacks run in order; sends after close() fail their callback and count in bufferedAmount',
    HANG_GUARD,
    () =>
      differential((context) =>
        pair(context, {
          onConnection: (ws) => {
            for (const n of [1, 2, 3]) ws.send(`m${n}`, (error) => context.s('sent', n, error ?? null));
            ws.close(1000);
            const before = ws.bufferedAmount;
            ws.send('late', (error) => context.s('late callback', error));
            ws.ping('p', undefined, (error) => context.s('late ping callback', error));
            context.s('bufferedAmount grew by', ws.bufferedAmount - before);
          },
        }),
      ),
  );

  it('binaryType arraybuffer and fragments on the server socket', HANG_GUARD, () =>
    differential((context) =>
      pair(context, {
        onConnection: (ws) => {
          ws.binaryType = 'arraybuffer';
          ws.on('message', (data, isBinary) => {
            context.s('type', data instanceof ArrayBuffer, Array.isArray(data), isBinary);
            ws.binaryType = 'fragments';
            if (Array.isArray(data)) ws.close(1000);
          });
        },
        onOpen: (ws) => {
          ws.send(Buffer.from('ab'));
          ws.send(Buffer.from('cd'));
          ws.send('text stays a Buffer');
        },
      }),
    ),
  );

  it('addEventListener in ws flavour: event objects, once, no duplicate, onX attributes', HANG_GUARD, () =>
    differential((context) =>
      pair(context, {
        onConnection: (ws) => {
          const onMessage = (event: MessageEvent) => context.s('event message', event.type, event.data);
          ws.addEventListener('message', onMessage);
          ws.addEventListener('message', onMessage);
          ws.addEventListener('message', (event) => context.s('once', event.data), { once: true });
          ws.onmessage = (event) => context.s('onmessage', typeof event.data);
          ws.onclose = (event) => context.s('onclose', event.code, event.reason, event.wasClean);
          context.s('onmessage is set', typeof ws.onmessage, ws.onerror);
        },
        onOpen: (ws) => {
          ws.send('one');
          ws.send(Buffer.from('two'));
          ws.close(1000, 'end');
        },
      }),
    ),
  );

  it('the headers event can add response headers; the client sees them in upgrade', HANG_GUARD, () =>
    differential(async ({ server, client, s, c }) => {
      const { wss, url } = await listen(server);
      wss.on('headers', (headers, request) => {
        s('headers', headers.length, request.url);
        headers.push('X-Extra: yes');
      });
      wss.on('connection', (ws) => ws.close(1000));
      const ws = new client.WebSocket(url);
      ws.on('upgrade', (response) => c('upgrade', response.statusCode, response.headers['x-extra']));
      await watch(ws, c);
      await closeServer(wss);
    }),
  );

  it(
    'clients are tracked; close() waits for them in noServer mode, and a second close() fails',
    HANG_GUARD,
    () =>
      differential(async ({ server, client, s, c }) => {
        const http = createServer();
        const wss = new server.WebSocketServer({ noServer: true });
        http.on('upgrade', (request, socket, head) => {
          s('shouldHandle', wss.shouldHandle(request));
          wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request));
        });
        await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
        let closed: Promise<void> = Promise.resolve();
        const serverClosed = once(wss, 'close');
        wss.on('connection', (ws) => {
          s('connection', wss.clients.size);
          closed = watch(ws, s);
          wss.close((error) => s('close callback', error ?? null, wss.clients.size));
          ws.send('still open');
        });
        const ws = new client.WebSocket(`ws://127.0.0.1:${(http.address() as AddressInfo).port}`);
        ws.on('message', () => ws.close(1000));
        await watch(ws, c);
        await closed;
        await serverClosed;
        await new Promise<void>((resolve) =>
          wss.close((error) => {
            s('second close', error ?? null);
            resolve();
          }),
        );
        s(
          'address() in noServer mode',
          (() => {
            try {
              return wss.address();
            } catch (error) {
              return error;
            }
          })(),
        );
        await new Promise<void>((resolve) => http.close(() => resolve()));
      }),
  );

  it('pause() and resume(): isPaused, and messages arrive after resume', HANG_GUARD, () =>
    differential((context) =>
      pair(context, {
        onConnection: (ws) => {
          ws.pause();
          context.s('paused', ws.isPaused);
          setTimeout(() => {
            ws.resume();
            context.s('resumed', ws.isPaused);
          }, 20);
          ws.on('message', () => ws.close(1000));
        },
        onOpen: (ws) => ws.send('while paused'),
      }),
    ),
  );

  it('a message sent in fragments (fin: false) arrives whole', HANG_GUARD, () =>
    differential((context) =>
      pair(context, {
        onConnection: (ws) => {
          ws.send('ab', { fin: false });
          ws.send('cd', { fin: false });
          ws.send('ef', { fin: true });
          ws.send(Buffer.from([9]), { binary: true });
        },
        onOpen: (ws) => {
          let n = 0;
          ws.on('message', () => {
            if (++n === 2) ws.close(1000);
          });
        },
      }),
    ),
  );

  it(
    'sends of every data type: number, ArrayBuffer, typed arrays, Blob (in order), undefined',
    HANG_GUARD,
    () =>
      differential((context) =>
        pair(context, {
          onConnection: (ws) => {
            ws.send(42);
            ws.send(new Uint16Array([1, 2]).buffer);
            ws.send(new Uint8Array([7, 8, 9]).subarray(1));
            ws.send(new Blob(['blob first']));
            ws.send('after the blob', { binary: true });
            ws.send(new DataView(new Uint8Array([5]).buffer));
            // Untyped callers: nothing is an empty binary message.
            ws.send(undefined as unknown as string);
          },
          onOpen: (ws) => {
            let n = 0;
            ws.on('message', () => {
              if (++n === 7) ws.close(1000);
            });
          },
        }),
      ),
  );

  it('permessage-deflate: negotiated when offered and enabled, messages round-trip', HANG_GUARD, () =>
    differential((context) =>
      pair(context, {
        serverOptions: { perMessageDeflate: true },
        onConnection: (ws) => ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary })),
        onOpen: (ws) => {
          ws.send('x'.repeat(4096));
          ws.send('small');
          let n = 0;
          ws.on('message', () => {
            if (++n === 2) ws.close(1000);
          });
        },
      }),
    ),
  );

  it('permessage-deflate is off on the server by default; the client sees no extension', HANG_GUARD, () =>
    differential((context) => pair(context, { onOpen: (ws) => ws.close(1000) })),
  );

  it('invalid send arguments throw as in ws', HANG_GUARD, () =>
    differential((context) =>
      pair(context, {
        onConnection: (ws) => {
          for (const attempt of [
            () => ws.close(1005),
            () => ws.close(1000, 'x'.repeat(124)),
            () => ws.ping(Buffer.alloc(126)),
            () => ws.ping(null as unknown as undefined),
            () => ws.pong(null as unknown as undefined),
          ]) {
            try {
              attempt();
              context.s('no throw');
            } catch (error) {
              context.s('threw', error);
            }
          }
          ws.close(1000);
        },
      }),
    ),
  );

  it(
    'the client: a URL with a fragment or a bad scheme throws; a refused connection is error then close',
    HANG_GUARD,
    () =>
      differential(async ({ client, c }) => {
        for (const url of ['ws://127.0.0.1/#frag', 'ftp://127.0.0.1/', 'not a url']) {
          try {
            new client.WebSocket(url);
          } catch (error) {
            c('threw', error);
          }
        }
        const http = createServer();
        await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
        const port = (http.address() as AddressInfo).port;
        await new Promise<void>((resolve) => http.close(() => resolve()));
        const ws = new client.WebSocket(`ws://127.0.0.1:${port}`);
        c('readyState', ws.readyState, ws.url.replace(String(port), 'PORT'));
        try {
          ws.send('too early');
        } catch (error) {
          c('send while connecting', error);
        }
        await new Promise<void>((resolve) => {
          ws.on('error', (error) => c('error', (error as Error & { code?: string }).code, ws.readyState));
          ws.on('close', (code, reason) => {
            c('close', code, reason, ws.readyState);
            resolve();
          });
        });
      }),
  );

  it('the client: close() while connecting aborts the handshake', HANG_GUARD, () =>
    differential(async ({ server, client, c }) => {
      const { wss, url } = await listen(server);
      const ws = new client.WebSocket(url);
      ws.close();
      await watch(ws, c);
      await closeServer(wss);
    }),
  );

  it('the client follows redirects when asked, emitting redirect', HANG_GUARD, () =>
    differential(async ({ server, client, s, c }) => {
      const http = createServer((_request, response) => {
        response.writeHead(302, { Location: '/target' }).end();
      });
      const wss = new server.WebSocketServer({ noServer: true });
      http.on('upgrade', (request, socket, head) => {
        if (request.url !== '/target') {
          socket.end('HTTP/1.1 302 Found\r\nLocation: /target\r\nContent-Length: 0\r\n\r\n');
          return;
        }
        wss.handleUpgrade(request, socket, head, (ws) => {
          s('connection', request.url);
          ws.close(1000);
        });
      });
      await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
      const port = (http.address() as AddressInfo).port;
      const ws = new client.WebSocket(`ws://127.0.0.1:${port}/start`, { followRedirects: true });
      ws.on('redirect', (url) => c('redirect', url.replace(String(port), 'PORT')));
      await watch(ws, c);
      c('url', ws.url.replace(String(port), 'PORT'));
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    }),
  );

  it('createWebSocketStream: a Duplex on each end, echoing through pipe, ended by end()', HANG_GUARD, () =>
    differential(async ({ server, client, s, c }) => {
      const { wss, url } = await listen(server);
      let serverDone: Promise<void> = Promise.resolve();
      wss.on('connection', (ws) => {
        const duplex = server.createWebSocketStream(ws);
        duplex.on('data', (chunk: Buffer) => s('data', chunk));
        duplex.pipe(duplex);
        serverDone = new Promise((resolve) =>
          ws.on('close', (code, reason) => {
            s('close', code, reason);
            resolve();
          }),
        );
      });
      const ws = new client.WebSocket(url);
      const duplex = client.createWebSocketStream(ws, { encoding: 'utf8' });
      const chunks: string[] = [];
      duplex.on('data', (chunk: string) => {
        chunks.push(chunk);
        if (chunks.length === 2) duplex.end();
      });
      duplex.write('hello');
      duplex.write(Buffer.from('world'));
      await new Promise<void>((resolve) => duplex.on('close', () => resolve()));
      c('chunks', chunks, ws.readyState);
      await serverDone;
      await closeServer(wss);
    }),
  );

  it('autoPong: false leaves pings unanswered (the ping event still fires)', HANG_GUARD, () =>
    differential((context) =>
      pair(context, {
        serverOptions: { autoPong: false },
        onConnection: (ws) => ws.on('ping', () => ws.close(1000, 'pinged')),
        onOpen: (ws) => ws.ping('unanswered'),
      }),
    ),
  );

  it('allowSynchronousEvents: false delivers every message, ping and pong, in order', HANG_GUARD, () =>
    differential((context) =>
      pair(context, {
        serverOptions: { allowSynchronousEvents: false },
        onConnection: (ws) => {
          ws.on('message', (data) => {
            if (String(data) === 'last') ws.close(1000);
          });
          ws.ping('from server');
        },
        onOpen: (ws) => {
          ws.send('first');
          ws.ping('p');
          ws.send('last');
        },
      }),
    ),
  );

  it('a ping and a pong sent while a Blob is being read go after its message, in order', HANG_GUARD, () =>
    differential((context) =>
      pair(context, {
        onConnection: (ws) => {
          let n = 0;
          ws.on('message', () => {
            if (++n === 2) ws.close(1000);
          });
        },
        onOpen: (ws) => {
          ws.send(new Blob(['blob first']) as unknown as Buffer);
          ws.ping('ping after the blob');
          ws.pong('pong after the blob');
          ws.send('last', { binary: false });
        },
      }),
    ),
  );

  it('binaryType blob delivers a Blob of the bytes; ping and pong take Blobs too', HANG_GUARD, () =>
    differential((context) =>
      pair(context, {
        onConnection: (ws) => {
          // @types/ws does not list 'blob' yet (ws 8 supports it).
          (ws as unknown as { binaryType: string }).binaryType = 'blob';
          ws.on('message', async (data, isBinary) => {
            const blob = data as unknown as Blob;
            context.s('blob', blob instanceof Blob, Buffer.from(await blob.arrayBuffer()), isBinary);
            ws.close(1000);
          });
        },
        onOpen: (ws) => {
          ws.ping(new Blob(['blob ping']) as unknown as Buffer);
          ws.send(Buffer.from([1, 2]));
        },
      }),
    ),
  );

  it('wss: an HTTPS server in server mode, verifyClient sees secure, the client takes TLS options', {
    ...HANG_GUARD,
    skip: opensslMissing(),
  }, () => {
    const { key, cert } = selfSignedCertificate();
    return differential(async ({ server, client, s, c }) => {
      const https = createHttpsServer({ key, cert });
      const wss = new server.WebSocketServer({
        server: https,
        verifyClient: (info: { secure: boolean }) => {
          s('secure', info.secure);
          return true;
        },
      });
      wss.on('connection', (ws) => ws.on('message', (data) => ws.close(1000, String(data))));
      await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve));
      const port = (https.address() as AddressInfo).port;
      const ws = new client.WebSocket(`wss://localhost:${port}/`, { ca: cert });
      ws.on('open', () => ws.send('over tls'));
      await watch(ws, c);
      await closeServer(wss);
      https.closeAllConnections();
      await new Promise<void>((resolve) => https.close(() => resolve()));
    });
  });

  it('large messages both ways: 1 MiB binary and 200 KB of text, echoed', HANG_GUARD, () =>
    differential((context) =>
      pair(context, {
        onConnection: (ws) =>
          ws.on('message', (data, isBinary) => {
            context.s('length', (data as Buffer).length, isBinary);
            ws.send(data, { binary: isBinary });
          }),
        onOpen: (ws) => {
          const binary = Buffer.alloc(1024 * 1024, 7);
          const text = 'é'.repeat(100_000);
          ws.send(binary);
          ws.send(text);
          const lengths: number[] = [];
          ws.removeAllListeners('message');
          ws.on('message', (data, isBinary) => {
            lengths.push((data as Buffer).length);
            if (lengths.length === 2) {
              context.c('echoed', lengths, isBinary, (data as Buffer).equals(Buffer.from(text)));
              ws.close(1000);
            }
          });
          ws.on('close', (code) => context.c('closed', code));
        },
      }),
    ),
  );

  it(
    'port mode: close() waits for the open connections; clientTracking: false leaves clients undefined',
    HANG_GUARD,
    () =>
      differential(async ({ server, client, s, c }) => {
        const { wss, url } = await listen(server, { clientTracking: false });
        s('clients', wss.clients);
        let serverSocket: Promise<void> = Promise.resolve();
        const connected = new Promise<void>((resolve) =>
          wss.on('connection', (ws) => {
            s('url', ws.url, 'bufferedAmount', ws.bufferedAmount);
            serverSocket = watch(ws, s);
            resolve();
          }),
        );
        const ws = new client.WebSocket(url);
        const clientDone = watch(ws, c);
        await connected;
        const closed = new Promise<void>((resolve) =>
          wss.close((error) => {
            s('server closed', error ?? null, ws.readyState);
            resolve();
          }),
        );
        ws.close(1000, 'leaving');
        await Promise.all([clientDone, serverSocket, closed]);
      }),
  );

  it('the client: handshakeTimeout when the server never answers', HANG_GUARD, () =>
    differential(async ({ client, c }) => {
      const accepted: Socket[] = [];
      const silent = createNetServer((socket) => {
        accepted.push(socket);
        socket.on('error', () => {});
      });
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      const port = (silent.address() as AddressInfo).port;
      const ws = new client.WebSocket(`ws://127.0.0.1:${port}`, { handshakeTimeout: 50 });
      await watch(ws, c);
      // Not awaited: a connection the client gave up on while it was being accepted can
      // keep close()'s callback waiting with nothing left in the event loop.
      silent.close();
      for (const socket of accepted) socket.destroy();
    }),
  );

  it('the client: ws+unix: URLs connect over a Unix socket', HANG_GUARD, () =>
    differential(async ({ server, client, s, c }) => {
      const dir = mkdtempSync(join(tmpdir(), 'sockeye-ws-'));
      const path = join(dir, 'socket');
      const http = createServer();
      const wss = new server.WebSocketServer({ server: http });
      wss.on('connection', (ws, request) => {
        s('connection', request.url);
        ws.close(1000, 'over unix');
      });
      await new Promise<void>((resolve) => http.listen(path, resolve));
      const ws = new client.WebSocket(`ws+unix:${path}:/over/unix?x=1`);
      c('url', ws.url.replace(path, 'PATH'));
      await watch(ws, c);
      await closeServer(wss);
      await new Promise<void>((resolve) => http.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    }),
  );
});
