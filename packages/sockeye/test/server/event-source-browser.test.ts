/**
 * A real `EventSource` in Chromium, with no sockeye code on the page, reading a topic
 * from `server.eventSource()`: the server drops the stream, messages are published while
 * the browser is away, and the browser's own reconnection (with `Last-Event-ID`) gets
 * them from the topic's history: nothing lost, repeated or reordered.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { type Browser, launchChromium } from '../../../../scripts/lib/chromium.js';
import { CHROMIUM, missing } from '../../../../scripts/lib/prereqs.js';
import { type EventSourceEndpoint, WebSocketServer } from '../../src/index.js';
import { waitFor } from './event-source-helpers.js';

const PAGE = `<!doctype html><meta charset="utf-8"><title>EventSource</title>
<script>
  window.got = [];
  window.lost = [];
  window.opens = 0;
  const source = new EventSource('/events?topic=news');
  source.onopen = () => window.opens++;
  source.onmessage = (event) => window.got.push(event.lastEventId + ':' + event.data);
  source.addEventListener('lost', (event) => window.lost.push(event.data));
</script>`;

/** Poll an asynchronous `condition`; reject after `timeoutMs` (a hang guard). */
async function eventually(
  condition: () => Promise<boolean>,
  what: string,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const skip = missing(CHROMIUM, 'chromium');

describe('EventSource in Chromium', { skip, timeout: 120_000 }, () => {
  let http: Server;
  let server: WebSocketServer;
  let events: EventSourceEndpoint;
  let browser: Browser;
  let page: Page;
  /** The Last-Event-ID of each stream request, as the server saw it. */
  const asked: (string | undefined)[] = [];
  /** Holds the reconnection until the test has published (so it must come from history). */
  let letIn: () => void = () => {};
  let gate: Promise<void> = Promise.resolve();

  before(async () => {
    http = createServer();
    server = new WebSocketServer({ server: http, path: '/ws', handlers: {} });
    events = server.eventSource({
      path: '/events',
      retry: 200,
      authorize: async ({ request }) => {
        asked.push(request.headers['last-event-id'] as string | undefined);
        await gate;
        return true;
      },
    });
    http.on('request', (request, response) => {
      if (events.handle(request, response)) return;
      if (request.url === '/') response.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
      else response.writeHead(404).end();
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    browser = await launchChromium();
    page = await browser.context.newPage();
  });
  after(async () => {
    letIn();
    await browser?.close();
    await server?.close({ timeout: 100 });
    http?.closeAllConnections();
    await new Promise((resolve) => (http ? http.close(resolve) : resolve(undefined)));
  });

  const got = (): Promise<string[]> => page.evaluate(() => (window as unknown as { got: string[] }).got);

  it('resumes with Last-Event-ID after the server drops the stream: nothing lost, repeated or reordered', async () => {
    await page.goto(`http://127.0.0.1:${(http.address() as AddressInfo).port}/`);
    await waitFor(() => events.streamCount === 1, 'the first stream');
    for (let i = 1; i <= 3; i++) server.publish('news', `m${i}`);
    await eventually(async () => (await got()).length >= 3, 'the first three messages');
    assert.deepEqual(await got(), ['1:m1', '2:m2', '3:m3']);

    gate = new Promise((resolve) => {
      letIn = resolve;
    });
    http.closeAllConnections(); // the server drops the stream (and every other connection)
    await waitFor(() => events.streamCount === 0, 'the stream to be dropped');
    for (let i = 4; i <= 6; i++) server.publish('news', `m${i}`); // nobody is listening
    await waitFor(() => asked.length === 2, 'the browser to reconnect', 60_000);
    letIn();

    await eventually(async () => (await got()).length >= 6, 'the replayed messages');
    assert.deepEqual(asked, [undefined, '3']);
    assert.deepEqual(await got(), ['1:m1', '2:m2', '3:m3', '4:m4', '5:m5', '6:m6']);
    assert.deepEqual(await page.evaluate(() => (window as unknown as { lost: string[] }).lost), []);
    assert.equal(await page.evaluate(() => (window as unknown as { opens: number }).opens), 2);
  });
});
