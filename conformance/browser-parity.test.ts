/**
 * The same browser script (conformance/browser/websocket-script.js, browser API only) runs
 * unchanged in headless Chromium and in Node with sockeye's `WebSocket`, against the same
 * sockeye echo server; the two result records must be equal.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { test } from 'node:test';
import { WebSocket } from '../packages/sockeye/src/client/websocket.js';
import { serverFrame, startRawServer } from '../packages/sockeye/test/client/helpers.js';
import { launchChromium } from '../scripts/lib/chromium.js';
import { CHROMIUM, missing, ROOT } from '../scripts/lib/prereqs.js';
import { freePort, startProcess } from '../scripts/lib/process.js';

const SCRIPT = readFileSync(join(ROOT, 'conformance', 'browser', 'websocket-script.js'), 'utf8');

type Scenario = (base: string, refusedUrl: string, abortUrl: string) => Promise<string[]>;

test('one browser script gives the same results in Chromium and in Node', {
  skip: missing(CHROMIUM, 'chromium'),
  timeout: 120_000,
}, async (t) => {
  const port = await freePort();
  const server = await startProcess(
    process.execPath,
    ['--import', 'tsx', 'conformance/echo-server.ts', '--port', String(port)],
    /listening on ws:\/\//,
    { cwd: ROOT },
  );
  // The page comes from a loopback origin: Chromium's Local Network Access checks block
  // about:blank (a public origin) from opening connections to 127.0.0.1.
  const pages = createServer((_request, response) => {
    response.writeHead(200, { 'content-type': 'text/html' });
    response.end('<!doctype html><title>sockeye client parity</title>');
  });
  pages.listen(0, '127.0.0.1');
  await once(pages, 'listening');
  const pageUrl = `http://127.0.0.1:${(pages.address() as { port: number }).port}/`;
  // A server that accepts, sends one message, then resets the connection.
  const aborting = await startRawServer((socket, _request, accept) => {
    socket.write(accept());
    socket.write(serverFrame(0x1, 'last words'));
    // Reset once the script has read the message (it answers), so no data is lost to the RST.
    socket.once('data', () => socket.resetAndDestroy());
  });
  const browser = await launchChromium();
  try {
    const base = `ws://127.0.0.1:${port}`;
    const refusedUrl = `ws://127.0.0.1:${await freePort()}/`;

    // Node: the unchanged script text, with sockeye's WebSocket as the global it uses.
    const scenario = new Function('WebSocket', `${SCRIPT}\nreturn runScenario;`)(WebSocket) as Scenario;
    const inNode = await scenario(base, refusedUrl, aborting.url);

    // Chromium: the same text as a page script.
    const page = await browser.context.newPage();
    await page.goto(pageUrl);
    await page.addScriptTag({ content: SCRIPT });
    const inChromium = await page.evaluate(
      ([b, r, a]) =>
        (globalThis as unknown as { runScenario: Scenario }).runScenario(
          b as string,
          r as string,
          a as string,
        ),
      [base, refusedUrl, aborting.url],
    );

    t.diagnostic(`Chromium: ${JSON.stringify(inChromium)}`);
    assert.ok(inChromium.length > 20, 'the script ran in Chromium');
    assert.deepEqual(inNode, inChromium);
  } finally {
    await browser.close();
    await server.stop();
    pages.close();
    await aborting.close();
  }
});
