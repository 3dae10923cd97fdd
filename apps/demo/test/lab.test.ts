/**
 * The transport lab: its endpoints from Node (every transport delivers the same stream,
 * the server's byte counts match the bytes on the wire, hostile input is bounded), and
 * the page in Chromium running every transport and showing its numbers.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import WebSocket from 'ws';
import { type Browser, launchChromium } from '../../../scripts/lib/chromium.js';
import { CHROMIUM, missing } from '../../../scripts/lib/prereqs.js';
// @ts-expect-error: a plain ES module script without types
import { bundle } from '../scripts/bundle.mjs';
import type { LabResult } from '../src/browser/lab.js';
import { type DemoServer, startDemoServer } from '../src/server/demo-server.js';
import {
  LAB_LIMITS,
  LAB_TRANSPORTS,
  type LabMessage,
  type LabServerStats,
  percentile,
} from '../src/shared/lab.js';

let dir = '';
let server: DemoServer;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sockeye-lab-'));
  await (bundle as (outdir: string) => Promise<string[]>)(join(dir, 'public'));
  server = await startDemoServer({ publicDir: join(dir, 'public'), port: 0 });
});
after(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function post<T>(path: string): Promise<T> {
  const response = await fetch(`${server.origin}${path}`, { method: 'POST' });
  assert.equal(response.status, 200, path);
  return (await response.json()) as T;
}

async function stats(id: string): Promise<LabServerStats> {
  return (await (await fetch(`${server.origin}/lab/stats?id=${id}`)).json()) as LabServerStats;
}

/** Raw HTTP/1.1 GETs on one connection, one after the other: every byte both ways is known. */
async function rawGets(
  paths: string[],
): Promise<{ bytesSent: number; bytesReceived: number; bodies: string[] }> {
  const socket = connect(server.port, '127.0.0.1');
  await new Promise((resolve) => socket.once('connect', resolve));
  let received = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    received = Buffer.concat([received, chunk]);
  });
  let bytesSent = 0;
  const bodies: string[] = [];
  for (const path of paths) {
    const request = `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\nAccept: */*\r\n\r\n`;
    bytesSent += Buffer.byteLength(request);
    const before = received.length;
    socket.write(request);
    // Content-Length bodies: wait for the head, then for the whole body.
    for (let tries = 0; ; tries++) {
      assert.ok(tries < 20_000, 'a lab response never completed');
      const text = received.subarray(before).toString('latin1');
      const end = text.indexOf('\r\n\r\n');
      const length = /content-length: (\d+)/i.exec(text)?.[1];
      if (end !== -1 && length !== undefined && text.length >= end + 4 + Number(length)) {
        bodies.push(text.slice(end + 4, end + 4 + Number(length)));
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  }
  socket.destroy();
  return { bytesSent, bytesReceived: received.length, bodies };
}

describe('transport lab endpoints', { timeout: 120_000 }, () => {
  it('short polls deliver the stream, and the server counts exactly the bytes on the wire', async () => {
    const { id } = await post<{ id: string }>('/lab/run?transport=short-poll&count=5&interval=5');
    await post(`/lab/start?id=${id}`);
    for (let tries = 0; (await stats(id)).emitted < 5; tries++) {
      assert.ok(tries < 10_000, 'the stream never finished');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const wire = await rawGets([`/lab/poll?id=${id}&after=0`, `/lab/poll?id=${id}&after=3`]);
    const first = JSON.parse(wire.bodies[0]!) as LabMessage[];
    assert.deepEqual(
      first.map((message) => message.seq),
      [1, 2, 3, 4, 5],
    );
    assert.deepEqual(
      (JSON.parse(wire.bodies[1]!) as LabMessage[]).map((message) => message.seq),
      [4, 5],
    );
    const counted = await stats(id);
    assert.equal(counted.requests, 2);
    assert.equal(counted.connections, 1);
    assert.equal(counted.bytesIn, wire.bytesSent);
    assert.equal(counted.bytesOut, wire.bytesReceived);
  });

  it('a long poll is held until the next message, and answers at once when there is one', async () => {
    const { id } = await post<{ id: string }>('/lab/run?transport=long-poll&count=2&interval=50');
    const held = fetch(`${server.origin}/lab/long-poll?id=${id}&after=0`).then(
      async (response) => (await response.json()) as LabMessage[],
    );
    await post(`/lab/start?id=${id}`);
    assert.deepEqual(
      (await held).map((message) => message.seq),
      [1],
    );
  });

  it('WebSocket with and without deflate deliver the same stream; the connection is counted whole', async () => {
    const seen: Record<string, number[]> = {};
    for (const transport of ['websocket', 'websocket-deflate'] as const) {
      const { id } = await post<{ id: string }>(`/lab/run?transport=${transport}&count=20&interval=5`);
      const path = transport === 'websocket' ? '/lab/ws' : '/lab/ws-deflate';
      const ws = new WebSocket(`ws://127.0.0.1:${server.port}${path}?id=${id}`, { perMessageDeflate: true });
      await new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
      });
      const got: number[] = [];
      const done = new Promise<void>((resolve) => {
        ws.on('message', (data) => {
          got.push((JSON.parse(data.toString()) as LabMessage).seq);
          if (got.length === 20) resolve();
        });
      });
      await post(`/lab/start?id=${id}`);
      await done;
      assert.equal(ws.extensions === '' ? 'none' : 'deflate', transport === 'websocket' ? 'none' : 'deflate');
      ws.close();
      await new Promise((resolve) => ws.once('close', resolve));
      seen[transport] = got;
      const counted = await stats(id);
      assert.equal(counted.requests, 1);
      assert.equal(counted.connections, 1);
      assert.ok(counted.bytesIn > 100 && counted.bytesOut > 100, JSON.stringify(counted));
    }
    assert.deepEqual(seen.websocket, seen['websocket-deflate']);
  });

  it('bounds what a visitor can ask for: runs, counts, intervals, waiting polls; wrong methods and ids', async () => {
    for (const query of [
      'transport=carrier-pigeon&count=5&interval=50',
      `transport=sse&count=${LAB_LIMITS.maxCount + 1}&interval=50`,
      `transport=sse&count=5&interval=${LAB_LIMITS.minInterval - 1}`,
      'transport=sse&count=1.5&interval=50',
    ]) {
      const response = await fetch(`${server.origin}/lab/run?${query}`, { method: 'POST' });
      assert.equal(response.status, 400, query);
    }
    assert.equal((await fetch(`${server.origin}/lab/run?transport=sse`)).status, 405);
    assert.equal((await fetch(`${server.origin}/lab/poll?id=nope`)).status, 404);
    assert.equal((await fetch(`${server.origin}/lab/elsewhere`)).status, 404);
    const { id } = await post<{ id: string }>('/lab/run?transport=long-poll&count=5&interval=1000');
    assert.equal((await fetch(`${server.origin}/lab/poll?id=${id}`)).status, 404); // another transport's endpoint
    const controllers = Array.from({ length: LAB_LIMITS.maxWaitingPolls }, () => new AbortController());
    const waiting = controllers.map((controller) =>
      fetch(`${server.origin}/lab/long-poll?id=${id}&after=0`, { signal: controller.signal }).catch(
        () => null,
      ),
    );
    for (let tries = 0; ; tries++) {
      const response = await fetch(`${server.origin}/lab/long-poll?id=${id}&after=0`);
      if (response.status === 429) break;
      assert.ok(tries < 1000, 'the waiting polls were never bounded');
      await response.arrayBuffer();
    }
    for (const controller of controllers) controller.abort();
    await Promise.all(waiting);
    // SSE streams per run are bounded too.
    const sse = await post<{ id: string }>('/lab/run?transport=sse&count=5&interval=1000');
    const streams = new AbortController();
    const statuses: number[] = [];
    for (let i = 0; i <= LAB_LIMITS.maxStreams; i++) {
      const response = await fetch(`${server.origin}/lab/sse?id=${sse.id}`, { signal: streams.signal });
      statuses.push(response.status);
      if (response.status !== 200) await response.arrayBuffer();
    }
    streams.abort();
    assert.deepEqual(statuses, [...Array.from({ length: LAB_LIMITS.maxStreams }, () => 200), 429]);
    // And WebSockets per run.
    const wsRun = await post<{ id: string }>('/lab/run?transport=websocket&count=5&interval=1000');
    const sockets: WebSocket[] = [];
    const outcomes: (number | 'open')[] = [];
    for (let i = 0; i <= LAB_LIMITS.maxStreams; i++) {
      const ws = new WebSocket(`ws://127.0.0.1:${server.port}/lab/ws?id=${wsRun.id}`);
      sockets.push(ws);
      outcomes.push(
        await new Promise<number | 'open'>((resolve) => {
          ws.once('open', () => resolve('open'));
          ws.once('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
          ws.once('error', () => {});
        }),
      );
    }
    for (const ws of sockets) ws.terminate();
    assert.deepEqual(outcomes, [...Array.from({ length: LAB_LIMITS.maxStreams }, () => 'open'), 429]);
    // Past maxRuns the oldest run is dropped: the table never grows past it.
    const first = await post<{ id: string }>('/lab/run?transport=sse&count=1&interval=50');
    for (let i = 0; i < LAB_LIMITS.maxRuns; i++) await post('/lab/run?transport=sse&count=1&interval=50');
    assert.equal((await fetch(`${server.origin}/lab/stats?id=${first.id}`)).status, 404);
  });

  it('takes the nearest-rank percentile', () => {
    assert.equal(percentile([5, 1, 3, 2, 4], 50), 3);
    assert.equal(percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 99), 10);
    assert.ok(Number.isNaN(percentile([], 50)));
  });
});

describe('transport lab in Chromium', { skip: missing(CHROMIUM, 'chromium'), timeout: 300_000 }, () => {
  let browser: Browser;
  let page: Page;
  before(async () => {
    browser = await launchChromium();
    page = await browser.context.newPage();
  });
  after(async () => {
    await browser?.close();
  });

  it('runs the same stream over every transport and shows latency, bytes, requests and connections', async () => {
    const count = 20;
    await page.goto(`${server.origin}/lab.html?count=${count}&interval=20&poll=100&run`);
    await page.locator('body[data-lab="done"]').waitFor({ timeout: 240_000 });
    const results = (await page.evaluate(() => window.labResults)) as LabResult[];
    assert.deepEqual(
      results.map((result) => result.transport),
      [...LAB_TRANSPORTS],
    );
    const expected = Array.from({ length: count }, (_, i) => i + 1);
    for (const result of results) {
      assert.equal(result.error, undefined, `${result.transport}: ${result.error}`);
      assert.deepEqual(result.received, expected, `${result.transport} delivers the whole stream in order`);
      assert.ok(Number.isFinite(result.p50) && Number.isFinite(result.p99), result.transport);
      assert.ok(result.bytesPerMessage > 0, result.transport);
    }
    const by = Object.fromEntries(results.map((result) => [result.transport, result]));
    for (const push of ['sse', 'websocket', 'websocket-deflate']) {
      assert.equal(by[push]!.requests, 1, `${push}: one request`);
      assert.equal(by[push]!.connections, 1, `${push}: one connection`);
    }
    assert.ok(by['short-poll']!.requests > 1);
    assert.ok(by['long-poll']!.requests > 1);
    // Every poll carries a request and a response head: more bytes per message than a frame.
    assert.ok(by['short-poll']!.bytesPerMessage > by.websocket!.bytesPerMessage);
    assert.ok(by['long-poll']!.bytesPerMessage > by.websocket!.bytesPerMessage);
    // The page shows a row per transport, and both charts are drawn.
    assert.equal(await page.locator('#lab-results tr').count(), LAB_TRANSPORTS.length);
    assert.equal(await page.locator('#lab-latency-chart canvas').count(), 1);
    assert.equal(await page.locator('#lab-bytes-chart canvas').count(), 1);
  });
});
