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
import { type Browser, eventually, launchChromium } from '../../../../scripts/lib/chromium.js';
import { CHROMIUM, missing } from '../../../../scripts/lib/prereqs.js';
import { type EventSourceEndpoint, WebSocketServer } from '../../src/index.js';
import { waitFor } from './event-source-helpers.js';

/** A page with no sockeye code: a plain EventSource on `source`, recording what it gets. */
const page = (source: string): string => `<!doctype html><meta charset="utf-8"><title>EventSource</title>
<script>
  window.got = [];
  window.lost = [];
  window.opens = 0;
  const source = new EventSource('${source}');
  source.onopen = () => window.opens++;
  source.onmessage = (event) => window.got.push(event.lastEventId + ':' + event.data);
  source.addEventListener('lost', (event) => window.lost.push(event.data));
</script>`;

const skip = missing(CHROMIUM, 'chromium');

/** An endpoint whose reconnections can be held until the test has published (so they must come from history). */
interface Gated {
  endpoint: EventSourceEndpoint;
  /** The Last-Event-ID of each stream request, as the server saw it. */
  asked: (string | undefined)[];
  /** Hold the next requests until `letIn()`. */
  hold(): void;
  letIn(): void;
}

function gated(server: WebSocketServer, path: string, history?: { maxMessages: number }): Gated {
  let gate: Promise<void> = Promise.resolve();
  let open: () => void = () => {};
  const asked: (string | undefined)[] = [];
  const endpoint = server.eventSource({
    path,
    retry: 200,
    history,
    authorize: async ({ request }) => {
      asked.push(request.headers['last-event-id'] as string | undefined);
      await gate;
      return true;
    },
  });
  return {
    endpoint,
    asked,
    hold() {
      gate = new Promise((resolve) => {
        open = resolve;
      });
    },
    letIn: () => open(),
  };
}

describe('EventSource in Chromium', { skip, timeout: 120_000 }, () => {
  let http: Server;
  let server: WebSocketServer;
  let full: Gated;
  let trimmed: Gated;
  let browser: Browser;
  let tab: Page;

  before(async () => {
    http = createServer();
    server = new WebSocketServer({ server: http, path: '/ws', handlers: {} });
    full = gated(server, '/events');
    trimmed = gated(server, '/trimmed-events', { maxMessages: 2 });
    const pages: Record<string, string> = {
      '/': page('/events?topic=news'),
      '/trimmed': page('/trimmed-events?topic=news'),
    };
    http.on('request', (request, response) => {
      if (full.endpoint.handle(request, response) || trimmed.endpoint.handle(request, response)) return;
      const html = pages[request.url ?? ''];
      if (html !== undefined) response.writeHead(200, { 'content-type': 'text/html' }).end(html);
      else response.writeHead(404).end();
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    browser = await launchChromium();
    tab = await browser.context.newPage();
  });
  after(async () => {
    full?.letIn();
    trimmed?.letIn();
    await browser?.close();
    await server?.close({ timeout: 100 });
    http?.closeAllConnections();
    await new Promise((resolve) => (http ? http.close(resolve) : resolve(undefined)));
  });

  const got = (): Promise<string[]> => tab.evaluate(() => (window as unknown as { got: string[] }).got);
  const lost = (): Promise<string[]> => tab.evaluate(() => (window as unknown as { lost: string[] }).lost);
  const opens = (): Promise<number> => tab.evaluate(() => (window as unknown as { opens: number }).opens);

  /** Open `path`, publish `before`, drop every connection, publish `during` while the browser is away, let it back in. */
  async function dropAndResume(path: string, gate: Gated, before: number, during: number): Promise<void> {
    await tab.goto(`http://127.0.0.1:${(http.address() as AddressInfo).port}${path}`);
    await waitFor(() => gate.endpoint.streamCount === 1, 'the first stream');
    for (let i = 1; i <= before; i++) server.publish('news', `m${i}`);
    await eventually(async () => (await got()).length >= before, 'the first messages');
    gate.hold();
    http.closeAllConnections(); // the server drops the stream (and every other connection)
    await waitFor(() => gate.endpoint.streamCount === 0, 'the stream to be dropped');
    for (let i = before + 1; i <= before + during; i++) server.publish('news', `m${i}`); // nobody is listening
    await waitFor(() => gate.asked.length === 2, 'the browser to reconnect', 60_000);
    gate.letIn();
  }

  it('resumes with Last-Event-ID after the server drops the stream: nothing lost, repeated or reordered', async () => {
    await dropAndResume('/', full, 3, 3);
    await eventually(async () => (await got()).length >= 6, 'the replayed messages');
    assert.deepEqual(full.asked, [undefined, '3']);
    assert.deepEqual(await got(), ['1:m1', '2:m2', '3:m3', '4:m4', '5:m5', '6:m6']);
    assert.deepEqual(await lost(), []);
    assert.equal(await opens(), 2);
  });

  it('is told exactly how many messages the trimmed history no longer holds', async () => {
    // The other endpoint's topic history goes on; this one numbers its own (from 1).
    await dropAndResume('/trimmed', trimmed, 2, 4);
    await eventually(async () => (await got()).length >= 4, 'the replayed messages');
    assert.deepEqual(trimmed.asked, [undefined, '2']);
    assert.deepEqual(await got(), ['1:m1', '2:m2', '5:m5', '6:m6']);
    assert.deepEqual(await lost(), ['{"after":2,"count":2}']);
  });
});
