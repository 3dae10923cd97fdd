/**
 * Interop with Chromium's permessage-deflate: headless Debian Chromium opens a WebSocket
 * to the conformance echo server (which accepts permessage-deflate and compresses every
 * message) with its default offer, and the page checks `ws.extensions` and every echo.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { launchChromium } from '../scripts/lib/chromium.js';
import { CHROMIUM, missing, ROOT } from '../scripts/lib/prereqs.js';
import { freePort, startProcess } from '../scripts/lib/process.js';

test('Chromium negotiates permessage-deflate with the echo server and gets every echo back', {
  skip: missing(CHROMIUM, 'chromium'),
  timeout: 120_000,
}, async () => {
  const port = await freePort();
  const server = await startProcess(
    process.execPath,
    ['--import', 'tsx', 'conformance/echo-server.ts', '--port', String(port)],
    /listening on ws:\/\//,
    { cwd: ROOT },
  );
  const browser = await launchChromium();
  try {
    const page = await browser.context.newPage();
    const result = await page.evaluate(async (url: string) => {
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
          received.push(typeof event.data === 'string' ? event.data : Array.from(new Uint8Array(event.data)));
          if (received.length === sent.length) resolve();
        };
      });
      const extensions = ws.extensions;
      ws.close(1000);
      return { extensions, same: JSON.stringify(received) === JSON.stringify(sent), count: received.length };
    }, `ws://127.0.0.1:${port}/`);
    assert.match(result.extensions, /^permessage-deflate/);
    assert.equal(result.count, 4);
    assert.equal(result.same, true);
  } finally {
    await browser.close();
    await server.stop();
  }
});
