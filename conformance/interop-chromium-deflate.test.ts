/**
 * Interop with Chromium's permessage-deflate: headless Debian Chromium opens a WebSocket
 * with its default offer to the conformance echo server (which compresses every message,
 * with context takeover) and to a WebSocketServer with its default settings (no context
 * takeover either way, imposed on the browser), and the page checks `ws.extensions` and
 * every echo.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WebSocketServer } from '../packages/sockeye/src/index.js';
import { launchChromium } from '../scripts/lib/chromium.js';
import { CHROMIUM, missing } from '../scripts/lib/prereqs.js';
import { startEchoServer } from './lib/echo.js';

test('Chromium negotiates permessage-deflate with the echo server and gets every echo back', {
  skip: missing(CHROMIUM, 'chromium'),
  timeout: 120_000,
}, async () => {
  const server = await startEchoServer();
  const defaults = new WebSocketServer({
    port: 0,
    host: '127.0.0.1',
    pingInterval: 0,
    origins: '*', // the page is about:blank (Origin: null)
    handlers: { message: (ws, data, isBinary) => ws.send(data, isBinary) },
  });
  const browser = await launchChromium();
  try {
    const defaultsPort = (await defaults.listen())!.port;
    const page = await browser.context.newPage();
    const run = (url: string) =>
      page.evaluate(async (url: string) => {
        const json = JSON.stringify(Array.from({ length: 500 }, (_, i) => ({ id: i, name: `user-${i}` })));
        const sent: Array<string | number[]> = [
          json,
          'small',
          'é😀'.repeat(3000),
          Array.from({ length: 5000 }, (_, i) => i % 7),
        ];
        const ws = new WebSocket(url);
        ws.binaryType = 'arraybuffer';
        const received: Array<string | number[]> = [];
        await new Promise<void>((resolve, reject) => {
          ws.onerror = () => reject(new Error('WebSocket error'));
          ws.onopen = () => {
            for (const m of sent) ws.send(typeof m === 'string' ? m : new Uint8Array(m));
          };
          ws.onmessage = (event) => {
            received.push(
              typeof event.data === 'string' ? event.data : Array.from(new Uint8Array(event.data)),
            );
            if (received.length === sent.length) resolve();
          };
        });
        const extensions = ws.extensions;
        ws.close(1000);
        return {
          extensions,
          same: JSON.stringify(received) === JSON.stringify(sent),
          count: received.length,
        };
      }, url);
    const echo = await run(`${server.url}/`);
    assert.match(echo.extensions, /^permessage-deflate/);
    assert.doesNotMatch(echo.extensions, /no_context_takeover/);
    assert.equal(echo.count, 4);
    assert.equal(echo.same, true);
    const withDefaults = await run(`ws://127.0.0.1:${defaultsPort}/`);
    assert.equal(
      withDefaults.extensions,
      'permessage-deflate; server_no_context_takeover; client_no_context_takeover',
    );
    assert.equal(withDefaults.count, 4);
    assert.equal(withDefaults.same, true);
  } finally {
    await browser.close();
    await server.stop();
    await defaults.close({ timeout: 1000 });
  }
});
