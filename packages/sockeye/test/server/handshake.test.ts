/** The opening handshake of WebSocketServer in standalone mode: statuses, origin, authenticate, subprotocols. */
import assert from 'node:assert/strict';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { constantTimeEqual, HandshakeError, type ServerWebSocket, WebSocketServer } from '../../src/index.js';
import { isSameOrigin } from '../../src/server/index.js';
import { ACCEPT, deferred, listen, openWs, RawClient, upgradeRequest } from './helpers.js';

/** Send `request` raw and return the status line's code, the head and the body. */
async function ask(port: number, request: string): Promise<{ status: number; head: string; body: string }> {
  const client = await RawClient.connect(port);
  try {
    client.write(request);
    const response = await client.response();
    if (response.status !== 101)
      await client.waitFor(() => client.ended || client.closed, 'the server to close');
    const { body } = await client.response();
    return { status: response.status, head: response.head, body: body.toString() };
  } finally {
    client.destroy();
  }
}

describe('handshake statuses (standalone)', () => {
  let server: WebSocketServer;
  let port: number;
  before(async () => {
    ({ server, port } = await listen({ path: '/ws', handlers: {} }));
  });
  after(() => server.close());

  it('answers a valid request with 101 and the accept value of RFC 6455 section 1.3', async () => {
    const { status, head } = await ask(port, upgradeRequest('/ws', {}, port));
    assert.equal(status, 101);
    assert.match(head, new RegExp(`Sec-WebSocket-Accept: ${ACCEPT.replace(/[+/]/g, '\\$&')}`));
    assert.doesNotMatch(head, /Sec-WebSocket-Protocol/);
  });

  it('answers a plain GET with 426 and Sec-WebSocket-Version: 13', async () => {
    const { status, head, body } = await ask(port, `GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
    assert.equal(status, 426);
    assert.match(head, /Sec-WebSocket-Version: 13/);
    assert.match(body, /WebSocket/);
  });

  it('answers another version with 426', async () => {
    const { status, head } = await ask(port, upgradeRequest('/ws', { 'Sec-WebSocket-Version': '8' }, port));
    assert.equal(status, 426);
    assert.match(head, /Sec-WebSocket-Version: 13/);
  });

  it('answers POST with 405', async () => {
    const request = upgradeRequest('/ws', {}, port).replace(/^GET/, 'POST');
    const { status, head } = await ask(port, request);
    assert.equal(status, 405);
    assert.match(head, /Allow: GET/);
  });

  it('answers HTTP/1.0 with 400', async () => {
    const { status, body } = await ask(port, upgradeRequest('/ws', {}, port).replace('HTTP/1.1', 'HTTP/1.0'));
    assert.equal(status, 400);
    assert.match(body, /HTTP\/1\.1 is required/);
  });

  it('answers a request without Host with 400', async () => {
    const { status, body } = await ask(port, upgradeRequest('/ws', { Host: '' }, port));
    assert.equal(status, 400);
    assert.match(body, /Host/);
  });

  it('answers a missing or malformed key with 400', async () => {
    assert.equal((await ask(port, upgradeRequest('/ws', { 'Sec-WebSocket-Key': '' }, port))).status, 400);
    assert.equal((await ask(port, upgradeRequest('/ws', { 'Sec-WebSocket-Key': 'abc' }, port))).status, 400);
  });

  it('answers a malformed request line with 400', async () => {
    assert.equal((await ask(port, 'NONSENSE\r\n\r\n')).status, 400);
  });

  it('answers another path with 404', async () => {
    const { status, body } = await ask(port, upgradeRequest('/other', {}, port));
    assert.equal(status, 404);
    assert.match(body, /\/other/);
  });

  it('matches the path without the query', async () => {
    assert.equal((await ask(port, upgradeRequest('/ws?x=1', {}, port))).status, 101);
  });
});

describe('origin check (on by default)', () => {
  it('accepts no Origin and the same origin, refuses a foreign one with 403 and a reason', async () => {
    const { server, port } = await listen({ handlers: {} });
    try {
      assert.equal((await ask(port, upgradeRequest('/', {}, port))).status, 101);
      const same = await ask(port, upgradeRequest('/', { Origin: `http://127.0.0.1:${port}` }, port));
      assert.equal(same.status, 101);
      const foreign = await ask(port, upgradeRequest('/', { Origin: 'https://evil.example' }, port));
      assert.equal(foreign.status, 403);
      assert.match(foreign.body, /evil\.example/);
      const otherPort = await ask(
        port,
        upgradeRequest('/', { Origin: `http://127.0.0.1:${port + 1}` }, port),
      );
      assert.equal(otherPort.status, 403);
      assert.equal((await ask(port, upgradeRequest('/', { Origin: 'null' }, port))).status, 403);
    } finally {
      await server.close();
    }
  });

  it('accepts origins from an allow-list of strings and patterns, and a function', async () => {
    const { server, port } = await listen({
      origins: ['https://app.example', /^https:\/\/[a-z]+\.trusted\.example$/],
      handlers: {},
    });
    const fn = await listen({ origins: (origin) => origin.endsWith('.ok.example'), handlers: {} });
    try {
      const with_ = (origin: string, p = port) => ask(p, upgradeRequest('/', { Origin: origin }, p));
      assert.equal((await with_('https://APP.example')).status, 101);
      assert.equal((await with_('https://a.trusted.example')).status, 101);
      assert.equal((await with_('https://a.trusted.example.evil')).status, 403);
      assert.equal((await with_('https://b.ok.example', fn.port)).status, 101);
      assert.equal((await with_('https://b.bad.example', fn.port)).status, 403);
    } finally {
      await server.close();
      await fn.server.close();
    }
  });

  it("'*' accepts any origin", async () => {
    const { server, port } = await listen({ origins: '*', handlers: {} });
    try {
      assert.equal(
        (await ask(port, upgradeRequest('/', { Origin: 'https://anywhere.example' }, port))).status,
        101,
      );
    } finally {
      await server.close();
    }
  });
});

describe('authenticate', () => {
  const SECRET = 's3cr3t-token';
  it('checks a bearer token in constant time and attaches typed data', async () => {
    const opened = deferred<{ user: string; url: string }>();
    const { server, port, url } = await listen<{ user: string; url: string }>({
      async authenticate(request) {
        const header = request.headers.authorization;
        const token = typeof header === 'string' && header.startsWith('Bearer ') ? header.slice(7) : '';
        if (!constantTimeEqual(token, SECRET)) {
          throw new HandshakeError(401, 'invalid token', { 'WWW-Authenticate': 'Bearer' });
        }
        await new Promise((resolve) => setTimeout(resolve, 5));
        return { user: 'alice', url: request.url };
      },
      handlers: {
        open(ws) {
          opened.resolve(ws.data);
        },
      },
    });
    try {
      const denied = await ask(port, upgradeRequest('/', { Authorization: 'Bearer wrong' }, port));
      assert.equal(denied.status, 401);
      assert.match(denied.head, /WWW-Authenticate: Bearer/);
      assert.match(denied.body, /invalid token/);
      assert.equal((await ask(port, upgradeRequest('/', {}, port))).status, 401);
      const client = await openWs(`${url}/room?id=7`, [], { headers: { Authorization: `Bearer ${SECRET}` } });
      assert.deepEqual(await opened.promise, { user: 'alice', url: '/room?id=7' });
      client.close();
    } finally {
      await server.close();
    }
  });

  it('answers 500 and reports the error when authenticate throws something else', async () => {
    const { server, port } = await listen({
      authenticate() {
        throw new Error('database down');
      },
      handlers: {},
    });
    const reported = deferred<unknown>();
    server.on('error', (error) => reported.resolve(error));
    try {
      assert.equal((await ask(port, upgradeRequest('/', {}, port))).status, 500);
      assert.match(String(await reported.promise), /database down/);
    } finally {
      await server.close();
    }
  });
});

describe('subprotocols', () => {
  it('selects what selectProtocol returns, and none without it', async () => {
    const { server, url, port } = await listen({
      selectProtocol: (offered) => (offered.includes('chat.v2') ? 'chat.v2' : undefined),
      handlers: {},
    });
    const plain = await listen({ handlers: {} });
    try {
      const a = await openWs(url, ['chat.v1', 'chat.v2']);
      assert.equal(a.protocol, 'chat.v2');
      a.close();
      const b = await ask(port, upgradeRequest('/', { 'Sec-WebSocket-Protocol': 'other' }, port));
      assert.equal(b.status, 101);
      assert.doesNotMatch(b.head, /Sec-WebSocket-Protocol/);
      const { status, head } = await ask(
        plain.port,
        upgradeRequest('/', { 'Sec-WebSocket-Protocol': 'x' }, plain.port),
      );
      assert.equal(status, 101);
      assert.doesNotMatch(head, /Sec-WebSocket-Protocol/);
    } finally {
      await server.close();
      await plain.server.close();
    }
  });

  it('answers 500 when selectProtocol returns a protocol that was not offered', async () => {
    const { server, port } = await listen({ selectProtocol: () => 'nope', handlers: {} });
    server.on('error', () => {});
    try {
      assert.equal(
        (await ask(port, upgradeRequest('/', { 'Sec-WebSocket-Protocol': 'a' }, port))).status,
        500,
      );
    } finally {
      await server.close();
    }
  });

  it('answers a malformed Sec-WebSocket-Protocol with 400', async () => {
    const { server, port } = await listen({ handlers: {} });
    try {
      assert.equal(
        (await ask(port, upgradeRequest('/', { 'Sec-WebSocket-Protocol': 'a b' }, port))).status,
        400,
      );
    } finally {
      await server.close();
    }
  });
});

describe('constantTimeEqual', () => {
  it('is true for equal strings and false otherwise, whatever the lengths', () => {
    assert.equal(constantTimeEqual('token', 'token'), true);
    assert.equal(constantTimeEqual('token', 'tokeN'), false);
    assert.equal(constantTimeEqual('token', 'token2'), false);
    assert.equal(constantTimeEqual('', ''), true);
    assert.equal(constantTimeEqual('é', 'e'), false);
  });
});

describe('isSameOrigin', () => {
  it('compares scheme-normalised host and port', () => {
    assert.equal(isSameOrigin('https://a.example', 'a.example:443'), true);
    assert.equal(isSameOrigin('http://a.example', 'a.example:80'), true);
    assert.equal(isSameOrigin('https://a.example', 'a.example:80'), false);
    assert.equal(isSameOrigin('http://[::1]:8080', '[::1]:8080'), true);
    assert.equal(isSameOrigin('http://A.Example:8080', 'a.example:8080'), true);
    assert.equal(isSameOrigin('http://a.example', 'a.example.evil'), false);
    assert.equal(isSameOrigin('http://a.example', 'user@a.example'), false);
    assert.equal(isSameOrigin('file://', 'localhost'), false);
    assert.equal(isSameOrigin('null', 'localhost'), false);
  });
});

describe('after the upgrade', () => {
  /** What the server left on a socket for its handshake, once the WebSocket has it. */
  function handshakeLeftovers(ws: ServerWebSocket): {
    owner: unknown;
    dataListeners: number;
    closeListeners: number;
  } {
    const socket = ws._socket;
    const tags = Object.getOwnPropertySymbols(socket).filter((symbol) =>
      symbol.description?.startsWith('sockeye'),
    );
    assert.equal(tags.length, 1, 'one back reference for both phases');
    return {
      owner: (socket as unknown as Record<symbol, unknown>)[tags[0]!],
      dataListeners: socket.listenerCount('data'),
      closeListeners: socket.listenerCount('close'),
    };
  }

  it('keeps nothing of the handshake: no parser or pending entry on the socket, only the connection listeners', async () => {
    const opened = deferred<ServerWebSocket>();
    const { server, url } = await listen({ handlers: { open: (ws) => opened.resolve(ws) } });
    try {
      const client = await openWs(url);
      const ws = await opened.promise;
      // Standalone: the handshake tagged the socket and listened to 'data' and 'close'.
      const leftovers = handshakeLeftovers(ws);
      assert.equal(leftovers.owner, ws, 'the socket points to its WebSocket, not to the handshake');
      assert.deepEqual({ ...leftovers, owner: null }, { owner: null, dataListeners: 1, closeListeners: 1 });
      assert.equal(server.socketCount, 1);
      client.close();
    } finally {
      await server.close();
    }
  });
});

/**
 * HTTP/1.1 request rules (RFC 9112, RFC 9110) on the wire, with a raw TCP client, in
 * standalone mode (our parser) and attached mode (Node's parser hands us the request).
 */
describe('HTTP/1.1 request rules (RFC 9112, RFC 9110)', () => {
  const modes: Array<[string, () => Promise<{ port: number; close(): Promise<void> }>]> = [
    [
      'standalone',
      async () => {
        const { server, port } = await listen({ handlers: {} });
        return { port, close: () => server.close() };
      },
    ],
    [
      'attached',
      async () => {
        const http = createHttpServer();
        const wss = new WebSocketServer({ server: http, handlers: {} });
        await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
        return {
          port: (http.address() as AddressInfo).port,
          close: async () => {
            await wss.close();
            http.closeAllConnections();
            await new Promise((resolve) => http.close(resolve));
          },
        };
      },
    ],
  ];
  /** A valid request with the request-target `target` and `extra` header lines. */
  const requestWith = (port: number, target = '/', extra = '') =>
    upgradeRequest(target, {}, port).replace(/\r\n\r\n$/, `\r\n${extra}\r\n`);

  for (const [mode, start] of modes) {
    describe(mode, () => {
      let port = 0;
      let close: () => Promise<void> = async () => {};
      before(async () => {
        ({ port, close } = await start());
      });
      after(() => close());

      for (const [name, target] of [
        ['a NUL', '/a\x00b'],
        ['a bare CR', '/a\rb'],
        ['a bare LF', '/a\nb'],
        ['a DEL', '/a\x7fb'],
        ['an ESC', '/a\x1bb'],
      ] as const) {
        it(`400 and close for ${name} in the request-target`, async () => {
          const { status } = await ask(port, requestWith(port, target));
          assert.equal(status, 400);
        });
      }

      it('400 and close for a Host like "a b@c/d?e"', async () => {
        const request = upgradeRequest('/', { Host: 'a b@c/d?e' }, port);
        assert.equal((await ask(port, request)).status, 400);
        assert.equal((await ask(port, upgradeRequest('/', { Host: 'user@example.com' }, port))).status, 400);
      });

      for (const [name, extra] of [
        ['Content-Length above 0', 'Content-Length: 5\r\n'],
        ['Transfer-Encoding', 'Transfer-Encoding: chunked\r\n'],
        ['both Content-Length and Transfer-Encoding', 'Content-Length: 5\r\nTransfer-Encoding: chunked\r\n'],
      ] as const) {
        it(`refuses an upgrade request announcing a body: ${name}`, async () => {
          const { status } = await ask(port, requestWith(port, '/', extra));
          assert.equal(status, 400);
        });
      }

      it('accepts Content-Length: 0', async () => {
        assert.equal((await ask(port, requestWith(port, '/', 'Content-Length: 0\r\n'))).status, 101);
      });

      it('417 for an expectation it does not meet', async () => {
        assert.equal((await ask(port, requestWith(port, '/', 'Expect: x-fancy\r\n'))).status, 417);
      });

      it('Expect: 100-continue with a body is refused at once (no 100 Continue, no wait for the body)', async () => {
        const { status, head } = await ask(
          port,
          requestWith(port, '/', 'Expect: 100-continue\r\nContent-Length: 9\r\n'),
        );
        assert.equal(status, 400);
        assert.doesNotMatch(head, /100 Continue/);
      });

      it('Expect: 100-continue without content gets the final answer, 101', async () => {
        assert.equal((await ask(port, requestWith(port, '/', 'Expect: 100-continue\r\n'))).status, 101);
      });

      it('ignores empty list elements in Sec-WebSocket-Protocol and Sec-WebSocket-Extensions', async () => {
        for (const extra of [
          'Sec-WebSocket-Protocol: chat,\r\n',
          'Sec-WebSocket-Protocol: chat,,x\r\n',
          'Sec-WebSocket-Extensions: permessage-deflate,\r\n',
          'Sec-WebSocket-Extensions: x-a,,permessage-deflate\r\n',
        ]) {
          const { status, head } = await ask(port, requestWith(port, '/', extra));
          assert.equal(status, 101, extra);
          if (extra.includes('permessage-deflate'))
            assert.match(head, /Sec-WebSocket-Extensions: permessage-deflate/, extra);
        }
      });
    });
  }

  it('standalone: skips one empty line before the request line', async () => {
    const { server, port } = await listen({ handlers: {} });
    try {
      assert.equal((await ask(port, `\r\n${upgradeRequest('/', {}, port)}`)).status, 101);
    } finally {
      await server.close();
    }
  });
});
