/**
 * `@sockeye/metrics`: the `/metrics` output of a live server, checked by an independent
 * parser of Prometheus' text format (parse-prometheus-text-format, a port of the
 * reference Python client's parser): prom-client reading its own output back would not
 * catch a format error it makes itself.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { WebSocket, WebSocketServer } from '@sockeye/sockeye';
import parsePrometheusTextFormat, { type MetricFamily, type Sample } from 'parse-prometheus-text-format';
import { Registry } from 'prom-client';
import { collectMetrics } from '../src/index.js';

function family(families: MetricFamily[], name: string): MetricFamily {
  const found = families.find((f) => f.name === name);
  assert.ok(found, `no metric ${name}`);
  return found;
}

function value(families: MetricFamily[], name: string, labels: Record<string, string> = {}): number {
  const sample = family(families, name).metrics.find((m) =>
    Object.entries(labels).every(([key, v]) => m.labels?.[key] === v),
  ) as Sample | undefined;
  assert.ok(sample, `no sample of ${name} with ${JSON.stringify(labels)}`);
  return Number(sample.value);
}

function open(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.onopen = () => resolve(ws);
    ws.onerror = () => reject(new Error('connection failed'));
  });
}

function closed(ws: WebSocket): Promise<void> {
  return new Promise((resolve) => {
    ws.onclose = () => resolve();
  });
}

async function until(predicate: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1000 && !predicate(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  assert.ok(predicate(), `timed out waiting for ${what}`);
}

describe('@sockeye/metrics', () => {
  it('serves /metrics that a Prometheus text parser reads, with the server figures', async () => {
    const server = new WebSocketServer({
      port: 0,
      host: '127.0.0.1',
      countMessages: true,
      connectionLimits: { maxConnections: 2 },
      handlers: {
        open(ws) {
          ws.subscribe('room');
        },
        message(ws, data) {
          ws.send(data);
        },
      },
    });
    const port = (await server.listen())!.port;
    const metrics = collectMetrics(server, { labels: { app: 'test' } });
    const http = createServer((request, response) => {
      if (request.url === '/metrics') void metrics.handle(request, response);
      else response.writeHead(404).end();
    });
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    try {
      const url = `ws://127.0.0.1:${port}/`;
      const a = await open(url);
      const b = await open(url);
      await assert.rejects(open(url)); // 503: past maxConnections
      const echoed = new Promise<void>((resolve) => {
        a.onmessage = () => resolve();
      });
      a.send('hello');
      await echoed;
      assert.equal(server.publish('room', 'news'), 2);
      const aClosed = closed(a);
      a.close(1000);
      await aClosed;
      await until(() => server.stats().connections === 1, 'the close');

      const response = await fetch(`http://127.0.0.1:${(http.address() as AddressInfo).port}/metrics`);
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
      const families = parsePrometheusTextFormat(await response.text());

      assert.equal(family(families, 'sockeye_connections').type, 'GAUGE');
      assert.equal(value(families, 'sockeye_connections', { app: 'test' }), 1);
      assert.equal(value(families, 'sockeye_subscriptions'), 1);
      assert.equal(value(families, 'sockeye_topics'), 1);
      assert.equal(family(families, 'sockeye_handshakes_total').type, 'COUNTER');
      assert.equal(value(families, 'sockeye_handshakes_total', { result: 'accepted', status: '101' }), 2);
      assert.equal(value(families, 'sockeye_handshakes_total', { result: 'rejected', status: '503' }), 1);
      assert.equal(value(families, 'sockeye_messages_total', { direction: 'in' }), 1);
      assert.equal(value(families, 'sockeye_messages_total', { direction: 'out' }), 3);
      assert.ok(value(families, 'sockeye_bytes_total', { direction: 'in' }) > 0);
      assert.equal(value(families, 'sockeye_closes_total', { code: '1000' }), 1);
      assert.equal(value(families, 'sockeye_limits_total', { kind: 'max-connections' }), 1);
      assert.equal(family(families, 'sockeye_event_source_streams').type, 'GAUGE');
      assert.equal(value(families, 'sockeye_event_source_streams'), 0);
      assert.equal(family(families, 'sockeye_event_source_messages_total').type, 'COUNTER');
      assert.equal(value(families, 'sockeye_event_source_bytes_total'), 0);
      const durations = family(families, 'sockeye_connection_duration_seconds');
      assert.equal(durations.type, 'HISTOGRAM');
      // The +Inf bucket is the count (this parser drops `_count` of a labelled histogram).
      const inf = (f: MetricFamily) => (f.metrics[0] as { buckets: Record<string, string> }).buckets['+Inf'];
      assert.equal(inf(durations), '1');
      const fanOut = family(families, 'sockeye_publish_fanout_seconds');
      assert.equal(inf(fanOut), '1');

      b.close();
    } finally {
      metrics.close();
      await server.close({ timeout: 100 });
      await new Promise<void>((resolve) => http.close(() => resolve()));
    }
  });

  it('lets two servers share a registry with labels, and close() removes its metrics', async () => {
    const registry = new Registry();
    const one = new WebSocketServer({ noServer: true, handlers: {} });
    const metrics = collectMetrics(one, { registry, prefix: 'ws_' });
    assert.throws(() => collectMetrics(one, { registry, prefix: 'ws_' }), /already been registered/);
    metrics.close();
    const again = collectMetrics(one, { registry, prefix: 'ws_' });
    const families = parsePrometheusTextFormat(await again.text());
    assert.equal(value(families, 'ws_connections'), 0);
    again.close();
    assert.equal((await registry.metrics()).trim(), '');
    await one.close();
  });
});
