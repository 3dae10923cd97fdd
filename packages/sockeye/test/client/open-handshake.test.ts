/**
 * `openHandshake`, public for tools that drive the protocol themselves: the upgraded
 * socket with the request head as sent and the server's 101 response head, and a
 * `Connection` on it that exchanges messages.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { openHandshake } from '../../src/client/index.js';
import { Connection } from '../../src/protocol/index.js';
import { startWsEcho } from './helpers.js';

describe('openHandshake', () => {
  let echo: Awaited<ReturnType<typeof startWsEcho>>;
  before(async () => {
    echo = await startWsEcho();
  });
  after(async () => {
    await echo?.close();
  });

  test('hands over the socket with the request and the 101 response it was upgraded by', async () => {
    const opened = await openHandshake(new URL(`${echo.url}/path?q=1`), ['chat'], {
      headers: { 'X-Tool': 'yes' },
    }).result;
    try {
      assert.match(opened.request, /^GET \/path\?q=1 HTTP\/1\.1\r\n/);
      assert.match(opened.request, /\r\nX-Tool: yes\r\n/);
      assert.match(opened.request, /\r\nSec-WebSocket-Protocol: chat\r\n/);
      assert.ok(opened.request.endsWith('\r\n\r\n'));
      assert.equal(opened.response.statusCode, 101);
      assert.equal(opened.response.headers['sec-websocket-protocol'], 'chat');
      assert.equal(opened.protocol, 'chat');
      // ws's server accepts no permessage-deflate unless told to: none was negotiated.
      assert.equal(opened.response.headers['sec-websocket-extensions'], undefined);
      assert.equal(opened.deflate, null);

      const received = new Promise<string>((resolve) => {
        const connection = new Connection(
          {
            onMessage: (data) => resolve(data.toString()),
            onPing: () => {},
            onPong: () => {},
            onClose: () => {},
            onOutput: () => {
              for (const chunk of connection.takeOutput()) opened.socket.write(chunk);
            },
          },
          { role: 'client', extensions: opened.deflate === null ? [] : [opened.deflate] },
        );
        opened.socket.on('data', (chunk: Buffer) => connection.receive(chunk));
        if (opened.rest.length > 0) connection.receive(opened.rest);
        opened.socket.resume();
        connection.send('x'.repeat(2000), true);
      });
      assert.equal(await received, 'x'.repeat(2000));
    } finally {
      opened.socket.destroy();
    }
  });
});
