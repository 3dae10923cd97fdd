/**
 * Interop: Chromium (Debian's, driven by playwright-core) against sockeye's echo server.
 * The page (conformance/peers/browser-page.html, served from a loopback HTTP server) sends
 * a string, a Blob and an ArrayBuffer under both `binaryType` values and reports the
 * `event.data` it got back; also empty and 1 MiB messages, a subprotocol, and a close
 * with code and reason in both directions. The browser API cannot send pings; the
 * server's ping is checked (the server reports the pong as the text `pong:x`).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { type Browser, launchChromium } from '../scripts/lib/chromium.js';
import { CHROMIUM, missing, ROOT } from '../scripts/lib/prereqs.js';
import { type EchoServer, ONE_MIB, startEchoServer } from './lib/echo.js';

type Observation = Record<string, unknown>;
type Helper = 'echo' | 'oneMiB' | 'subprotocol' | 'clientClose' | 'serverClose' | 'serverPing';

const PAGE = readFileSync(join(ROOT, 'conformance', 'peers', 'browser-page.html'));
const BINARY_HEX = '000102feff807f';

/** Serve the interop page at `/` on a free loopback port. */
async function servePage(): Promise<{ server: Server; url: string }> {
  const server = createServer((request, response) => {
    if (request.url === '/') {
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE);
    } else response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
}

const skip = missing(CHROMIUM, 'chromium');

describe('interop: Chromium', { skip, timeout: 180_000 }, () => {
  let echo: EchoServer;
  let http: Server;
  let browser: Browser;
  let page: Page;
  /** Call one of the page's `window.interop` helpers with the echo server's URL first. */
  const call = (helper: Helper, ...args: string[]): Promise<Observation> =>
    page.evaluate(
      ([name, url, rest]) => {
        const interop = (
          window as unknown as { interop: Record<string, (...a: string[]) => Promise<unknown>> }
        ).interop;
        return interop[name]!(url, ...rest) as Promise<Record<string, unknown>>;
      },
      [helper, echo.url, args] as const,
    );

  before(async () => {
    echo = await startEchoServer();
    const served = await servePage();
    http = served.server;
    browser = await launchChromium();
    page = await browser.context.newPage();
    await page.goto(served.url);
  });
  after(async () => {
    await browser?.close();
    await new Promise((resolve) => (http ? http.close(resolve) : resolve(undefined)));
    await echo?.stop();
  });

  it('a string comes back as a string', async () => {
    const result = await call('echo', 'string', 'default');
    assert.equal(result.type, 'string');
    assert.equal(result.data, 'héllo, wörld ✓');
  });

  it('binaryType defaults to "blob": a Blob and an ArrayBuffer both come back as Blobs', async () => {
    for (const kind of ['blob', 'arraybuffer']) {
      const result = await call('echo', kind, 'default');
      assert.equal(result.defaultBinaryType, 'blob');
      assert.equal(result.type, 'Blob', `sent a ${kind}`);
      assert.equal(result.data, BINARY_HEX, `sent a ${kind}`);
    }
  });

  it('binaryType "arraybuffer": a Blob and an ArrayBuffer both come back as ArrayBuffers', async () => {
    for (const kind of ['blob', 'arraybuffer']) {
      const result = await call('echo', kind, 'arraybuffer');
      assert.equal(result.binaryType, 'arraybuffer');
      assert.equal(result.type, 'ArrayBuffer', `sent a ${kind}`);
      assert.equal(result.data, BINARY_HEX, `sent a ${kind}`);
    }
  });

  it('empty messages: text, ArrayBuffer and Blob', async () => {
    assert.deepEqual(await call('echo', 'empty-string', 'default'), {
      defaultBinaryType: 'blob',
      binaryType: 'blob',
      type: 'string',
      data: '',
    });
    for (const kind of ['empty-arraybuffer', 'empty-blob']) {
      const result = await call('echo', kind, 'arraybuffer');
      assert.equal(result.type, 'ArrayBuffer', `sent ${kind}`);
      assert.equal(result.data, '', `sent ${kind}`);
    }
  });

  it('a 1 MiB message comes back byte for byte (SHA-256 compared)', async () => {
    const result = await call('oneMiB');
    assert.equal(result.type, 'ArrayBuffer');
    assert.equal(result.length, ONE_MIB);
    assert.equal(result.receivedSha256, result.sentSha256);
  });

  it('negotiates the first offered subprotocol', async () => {
    assert.deepEqual(await call('subprotocol'), { protocol: 'chat.v2' });
  });

  it('client-initiated close with code and reason: the server echoes the code, cleanly', async () => {
    const result = await call('clientClose');
    assert.equal(result.code, 4000);
    assert.equal(result.wasClean, true);
  });

  it('server-initiated close: the page sees 4001 and the reason, cleanly', async () => {
    assert.deepEqual(await call('serverClose'), {
      echoed: 'last words',
      code: 4001,
      reason: 'server says bye',
      wasClean: true,
    });
  });

  it('server ping: answered by the browser (the server reports "pong:x"); pages cannot send pings', async () => {
    assert.deepEqual(await call('serverPing'), { type: 'string', data: 'pong:x' });
  });
});
