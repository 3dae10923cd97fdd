/**
 * The teaching pages in headless Chromium (Debian's, through playwright-core), against
 * the demo server started the way `npm start` starts it: the handshake walkthrough, the
 * protocol page (header bits for 100, 200 and 70,000 bytes, fragmentation, ping/pong and
 * the heartbeat, close, compression), backpressure and latency charts, and the chat's
 * message format joined from a terminal with `sockeye connect` as the page shows it.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { type Browser, launchChromium } from '../../../scripts/lib/chromium.js';
import { CHROMIUM, missing, ROOT } from '../../../scripts/lib/prereqs.js';
import { type DemoProcess, startDemo } from './support/demo-process.js';

const WAIT = { timeout: 30_000 };
const GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** A trace entry of the protocol page. */
function entry(page: Page, attributes: Record<string, string>) {
  const selector = Object.entries(attributes)
    .map(([name, value]) => `[data-${name}="${value}"]`)
    .join('');
  return page.locator(`#trace > li${selector}`);
}

describe('the teaching pages in Chromium', { skip: missing(CHROMIUM, 'chromium'), timeout: 300_000 }, () => {
  let server: DemoProcess;
  let browser: Browser;

  before(async () => {
    server = await startDemo();
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  async function open(path: string, errors: string[]): Promise<Page> {
    const page = await browser.context.newPage();
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${server.origin}/${path}`);
    return page;
  }

  it('handshake: the browser request, Sec-WebSocket-Accept step by step, long lines wrapped', async () => {
    const errors: string[] = [];
    const page = await open('handshake.html', errors);
    try {
      await page.setViewportSize({ width: 480, height: 900 });
      await page.locator('#accept-check[data-ok="true"]').waitFor(WAIT);
      const request = (await page.locator('#request-head').textContent()) ?? '';
      assert.match(request, /^GET \/ws\/echo\?session=[0-9a-f-]+ HTTP\/1\.1$/m);
      const key = /^Sec-WebSocket-Key: (\S+)$/m.exec(request)?.[1];
      assert.ok(key !== undefined, request);
      assert.equal(await page.locator('#step-key').textContent(), key);
      assert.equal(await page.locator('#step-guid').textContent(), GUID);
      assert.equal(await page.locator('#step-concat').textContent(), key + GUID);
      const sha1 = createHash('sha1')
        .update(key + GUID)
        .digest();
      assert.equal(
        await page.locator('#step-sha1').textContent(),
        (sha1.toString('hex').match(/../g) ?? []).join(' '),
      );
      assert.equal(await page.locator('#step-accept').textContent(), sha1.toString('base64'));
      assert.match(
        (await page.locator('#response-head').textContent()) ?? '',
        new RegExp(`^Sec-WebSocket-Accept: ${sha1.toString('base64').replace(/[+/]/g, '\\$&')}$`, 'm'),
      );
      // Each header is explained, the browser's own included.
      for (const name of ['sec-websocket-key', 'sec-websocket-version', 'origin', 'user-agent']) {
        const why = await page.locator(`#request-headers tr[data-header="${name}"] td`).last().textContent();
        assert.ok((why ?? '').length > 20, `${name}: ${why}`);
      }
      // Long lines (User-Agent, Sec-WebSocket-Extensions) wrap inside the box at 480 px.
      const overflow = await page
        .locator('#request-head')
        .evaluate((pre) => pre.scrollWidth - pre.clientWidth);
      assert.ok(overflow <= 0, `the request head overflows by ${overflow} px`);
      // A new connection has a new key.
      await page.locator('#again').click();
      await page.locator('#step-key', { hasNotText: key }).waitFor(WAIT);
      await page.locator('#accept-check[data-ok="true"]').waitFor(WAIT);
      assert.deepEqual(errors, []);
    } finally {
      await page.close();
    }
  });

  it('protocol: 7-, 16- and 64-bit lengths on the real header bytes', async () => {
    const errors: string[] = [];
    const page = await open('protocol.html', errors);
    try {
      await page.locator('#socket-state', { hasText: /^open$/ }).waitFor(WAIT);
      assert.equal(await page.locator('#extensions').textContent(), 'none');
      for (const [size, encoding, start] of [
        ['100', '7-bit', '81 e4'],
        ['200', '16-bit', '81 fe 00 c8'],
        ['70000', '64-bit', '81 ff 00 00 00 00 00 01 11 70'],
      ] as const) {
        await page.locator(`#send-${size}`).click();
        await page.locator(`#length-encoding[data-encoding="${encoding}"]`).waitFor(WAIT);
        const bytes = (await page.locator('#header-bytes').textContent()) ?? '';
        assert.ok(bytes.startsWith(start), `${size}: ${bytes}`);
        assert.equal(bytes.split(' ').length, start.split(' ').length + 4, 'and the 4-byte masking key');
        const rows = await page.locator('#header-bits tr').allTextContents();
        assert.match(rows[0]!, /^FIN1/);
        assert.match(rows[5]!, /^MASK1/);
        await entry(page, { direction: 'server-to-client', opcode: 'text' })
          .filter({ hasText: `${size} bytes` })
          .waitFor(WAIT);
      }
      // The echo's header (unmasked) shown on demand.
      await entry(page, { direction: 'server-to-client', opcode: 'text' })
        .last()
        .getByRole('button', { name: 'Header bit by bit' })
        .click();
      assert.equal(await page.locator('#header-bytes').textContent(), '81 7f 00 00 00 00 00 01 11 70');
      assert.deepEqual(errors, []);
    } finally {
      await page.close();
    }
  });

  it('protocol: a fragmented message with a ping between, ping/pong, close with code and reason', async () => {
    const errors: string[] = [];
    const page = await open('protocol.html', errors);
    try {
      await page.locator('#socket-state', { hasText: /^open$/ }).waitFor(WAIT);
      await page.locator('#fragment-text').fill('abcdefgh我是阿宝哥');
      await page.locator('#fragment-count').selectOption('4');
      await page.locator('#send-fragmented').click();
      await page.locator('#fragment-result', { hasText: '4 frames on the wire' }).waitFor(WAIT);
      assert.match(
        (await page.locator('#fragment-result').textContent()) ?? '',
        /one message event for the page: "abcdefgh我是阿宝哥"/,
      );
      const fromServer = await page
        .locator('#trace > li[data-direction="server-to-client"]')
        .evaluateAll((items) =>
          items.map((li) => `${(li as HTMLElement).dataset.opcode} ${(li as HTMLElement).dataset.fin}`),
        );
      assert.deepEqual(fromServer, [
        'text false',
        'ping true',
        'continuation false',
        'continuation false',
        'continuation true',
      ]);
      await entry(page, { direction: 'client-to-server', opcode: 'pong' }).waitFor(WAIT);

      await page.locator('#ping').click();
      await page.locator('#ping-result', { hasText: 'ping from the page #1' }).waitFor(WAIT);
      await entry(page, { direction: 'server-to-client', opcode: 'ping' })
        .filter({ hasText: 'ping from the page #1' })
        .waitFor(WAIT);

      // A code a page may not send is refused by the browser, and said so.
      await page.locator('#close-code').fill('1006');
      await page.locator('#close').click();
      await page.locator('#close-error', { hasText: /./ }).waitFor(WAIT);
      await page.locator('#close-code').fill('4001');
      await page.locator('#close-reason').fill('lesson over');
      await page.locator('#close').click();
      await page.locator('#close-event-clean', { hasText: 'true' }).waitFor(WAIT);
      assert.equal(await page.locator('#close-event-code').textContent(), '4001');
      // The event carries the server's answer: its code, echoed, without a reason.
      assert.equal(await page.locator('#close-event-reason').textContent(), '""');
      const browserClose = entry(page, { direction: 'client-to-server', opcode: 'close' });
      assert.match((await browserClose.textContent()) ?? '', /close code4001close reason"lesson over"/);
      const serverAnswer = entry(page, { direction: 'server-to-client', opcode: 'close' });
      await serverAnswer.waitFor(WAIT);
      assert.match((await serverAnswer.textContent()) ?? '', /close code4001close reason""/);

      // Closed by the server: the event has its code and reason.
      await page.locator('#reconnect').click();
      await page.locator('#socket-state', { hasText: /^open$/ }).waitFor(WAIT);
      await page.locator('#close-code').fill('4002');
      await page.locator('#close-reason').fill('server says bye');
      await page.locator('#server-close').click();
      await page.locator('#close-event-code', { hasText: '4002' }).waitFor(WAIT);
      assert.equal(await page.locator('#close-event-reason').textContent(), '"server says bye"');
      assert.equal(await page.locator('#close-event-clean').textContent(), 'true');
      const serverClose = entry(page, { direction: 'server-to-client', opcode: 'close' });
      assert.match((await serverClose.textContent()) ?? '', /close code4002close reason"server says bye"/);
      await entry(page, { direction: 'client-to-server', opcode: 'close' }).waitFor(WAIT);
      assert.deepEqual(errors, []);
    } finally {
      await page.close();
    }
  });

  it('protocol: permessage-deflate on the switch (RSV1, compressed bytes, inflated payload), and a heartbeat', async () => {
    const errors: string[] = [];
    const page = await open('protocol.html', errors);
    try {
      await page.locator('#socket-state', { hasText: /^open$/ }).waitFor(WAIT);
      await page.locator('#deflate').check();
      await page.locator('#extensions', { hasText: /^permessage-deflate/ }).waitFor(WAIT);
      assert.match((await page.locator('#deflate-params').textContent()) ?? '', /permessage-deflate agreed/);
      await page.locator('#socket-state', { hasText: /^open$/ }).waitFor(WAIT);
      await page.locator('#send-70000').click();
      const inflated = entry(page, { kind: 'inflated', direction: 'client-to-server' });
      await inflated.waitFor(WAIT);
      assert.match((await inflated.textContent()) ?? '', /text, 70000 bytes.*"sockeye frames bytes\./);
      const sent = entry(page, { kind: 'frame', direction: 'client-to-server', opcode: 'text' });
      assert.equal(await sent.getAttribute('data-rsv1'), 'true');
      const compressedLength = Number(/(\d+) bytes/.exec((await sent.textContent()) ?? '')?.[1]);
      assert.ok(compressedLength < 70_000, `${compressedLength} bytes on the wire`);
      await entry(page, { kind: 'inflated', direction: 'server-to-client' }).waitFor(WAIT);
      // The server compresses its echo too.
      const echoed = entry(page, { kind: 'frame', direction: 'server-to-client', opcode: 'text' });
      await echoed.waitFor(WAIT);
      assert.equal(await echoed.getAttribute('data-rsv1'), 'true');
      // The server's heartbeat (the library's default, every 30 s), answered by the browser.
      const heartbeat = entry(page, { kind: 'heartbeat' });
      await heartbeat.waitFor({ timeout: 90_000 });
      await entry(page, { kind: 'frame', direction: 'client-to-server', opcode: 'pong' }).waitFor(WAIT);
      assert.match((await heartbeat.textContent()) ?? '', /heartbeat/);
      assert.deepEqual(errors, []);
    } finally {
      await page.close();
    }
  });

  it('backpressure: bufferedAmount rises to 4 MiB at once, stays under 320 KiB paced; latency is charted', async () => {
    const errors: string[] = [];
    const page = await open('flow.html', errors);
    try {
      await page.locator('#sink-state', { hasText: /^open$/ }).waitFor(WAIT);
      await page.locator('#flood').click();
      await page.locator('#buffer-status[data-state="drained"]').waitFor(WAIT);
      assert.equal(Number(await page.locator('#buffer-peak').getAttribute('data-bytes')), 4 << 20);
      await page.locator('#paced').click();
      await page.locator('#buffer-status[data-state="drained"]', { hasText: 'paced' }).waitFor(WAIT);
      const pacedPeak = Number(await page.locator('#buffer-peak').getAttribute('data-bytes'));
      assert.ok(pacedPeak > 0 && pacedPeak < 320 << 10, `paced peak ${pacedPeak}`);
      assert.ok((await page.locator('#buffer-chart canvas').count()) >= 1, 'uPlot drew the chart');

      await page.locator('#latency-count', { hasText: /^([3-9]|\d\d+)$/ }).waitFor(WAIT);
      assert.match((await page.locator('#latency-last').textContent()) ?? '', /^\d+(\.\d+)? ms$/);
      assert.ok((await page.locator('#latency-chart canvas').count()) >= 1);
      assert.equal(await page.locator('#sink-state').textContent(), 'open', 'the sink kept the socket');
      assert.deepEqual(errors, []);
    } finally {
      await page.close();
    }
  });

  it('chat: the message format, and the sockeye connect command as shown joins the room', async () => {
    const errors: string[] = [];
    const page = await open('chat.html', errors);
    try {
      await page.locator('#name').fill('Ada');
      await page.locator('#join').click();
      await page.locator('#state', { hasText: 'in the room as Ada' }).waitFor(WAIT);
      assert.match((await page.locator('#last-raw').textContent()) ?? '', /^\{"type":"welcome","name":"Ada"/);
      const command = (await page.locator('#connect-command').textContent()) ?? '';
      assert.match(
        command,
        new RegExp(`^npx @sockeye/cli connect ws://127\\.0\\.0\\.1:${new URL(server.origin).port}/ws/chat `),
      );
      const output = await new Promise<string>((resolve, reject) => {
        execFile('sh', ['-c', command], { cwd: ROOT, timeout: 60_000 }, (error, stdout, stderr) =>
          error === null ? resolve(stdout) : reject(new Error(`${error.message}\n${stderr}`)),
        );
      });
      assert.match(output, /"type":"welcome","name":"Terminal"/);
      await page.locator('#lines li', { hasText: 'Terminal joined.' }).waitFor(WAIT);
      await page.locator('#lines li.line', { hasText: 'hello from a terminal' }).waitFor(WAIT);
      await page.locator('#lines li', { hasText: 'Terminal left.' }).waitFor(WAIT);
      assert.match(
        (await page.locator('#last-raw').textContent()) ?? '',
        /"type":"presence","event":"leave"/,
      );
      assert.equal(await page.locator('#format-heading').textContent(), 'The message format');
      assert.deepEqual(errors, []);
    } finally {
      await page.close();
    }
  });
});
