/**
 * The pages in headless Chromium (Debian's, through playwright-core), served by the demo
 * server started the way `npm start` starts it (support/demo-process.ts): echo of text,
 * Blob and ArrayBuffer; the inspector showing the real masked bytes of 我是阿宝哥; two
 * tabs chatting.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { type Browser, launchChromium } from '../../../scripts/lib/chromium.js';
import { CHROMIUM, missing } from '../../../scripts/lib/prereqs.js';
import { type DemoProcess, startDemo } from './support/demo-process.js';

const SEED_TEXT = '我是阿宝哥';
const SEED_HEX = 'e6 88 91 e6 98 af e9 98 bf e5 ae 9d e5 93 a5';
const WAIT = { timeout: 30_000 };

/** The text of the `<dd>` that follows the `<dt>` named `label` inside `scope`. */
async function field(page: Page, scope: string, label: string): Promise<string> {
  const dd = page
    .locator(`${scope} dt`, { hasText: new RegExp(`^${label.replace(/[()]/g, '\\$&')}$`) })
    .locator('xpath=following-sibling::dd[1]');
  return ((await dd.first().textContent()) ?? '').trim();
}

describe('the pages in Chromium', { skip: missing(CHROMIUM, 'chromium'), timeout: 300_000 }, () => {
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

  it('landing page links every page', async () => {
    const page = await browser.context.newPage();
    try {
      await page.goto(`${server.origin}/`);
      assert.equal(await page.title(), 'sockeye demo');
      for (const name of [
        'Handshake',
        'Protocol',
        'Backpressure and latency',
        'Echo',
        'Frame inspector',
        'Chat',
        'Reconnect',
      ]) {
        assert.equal(await page.locator('main a', { hasText: name }).count(), 1, name);
      }
    } finally {
      await page.close();
    }
  });

  it('echo: text, Blob and ArrayBuffer come back with their type and bytes', async () => {
    const page = await browser.context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    try {
      await page.goto(`${server.origin}/echo.html`);
      await page.locator('#state', { hasText: /^open$/ }).waitFor(WAIT);
      assert.equal(
        await page.locator('#url').textContent(),
        `ws://127.0.0.1:${new URL(server.origin).port}/ws/echo`,
      );
      assert.equal(await page.locator('#protocol').textContent(), 'none');
      await page.locator('#message').fill(SEED_TEXT);

      await page.locator('#send-text').click();
      const text = page.locator('#log li', { hasText: 'echo received as string' });
      await text.waitFor(WAIT);
      assert.match((await text.textContent()) ?? '', new RegExp(`${SEED_TEXT}.*15: ${SEED_HEX}`));

      await page.locator('#send-blob').click();
      const blob = page.locator('#log li', { hasText: 'echo received as Blob' });
      await blob.waitFor(WAIT);
      assert.match((await blob.textContent()) ?? '', new RegExp(`15: ${SEED_HEX}`));

      await page.locator('#binary-type').selectOption('arraybuffer');
      await page.locator('#send-arraybuffer').click();
      const buffer = page.locator('#log li', { hasText: 'echo received as ArrayBuffer' });
      await buffer.waitFor(WAIT);
      assert.match((await buffer.textContent()) ?? '', new RegExp(`15: ${SEED_HEX}`));

      // Reconnect offering subprotocols: the server selects the first.
      await page.locator('#offer').fill('chat, superchat');
      await page.locator('#reconnect').click();
      await page.locator('#protocol', { hasText: /^chat$/ }).waitFor(WAIT);
      await page.locator('#close').click();
      await page.locator('#state', { hasText: /^closed$/ }).waitFor(WAIT);
      await page.locator('#log li', { hasText: 'closed: 1000 (normal closure)' }).last().waitFor(WAIT);
      assert.deepEqual(errors, []);
    } finally {
      await page.close();
    }
  });

  it('echo: the log keeps its newest 200 entries however much is sent', async () => {
    const page = await browser.context.newPage();
    try {
      await page.goto(`${server.origin}/echo.html`);
      await page.locator('#state', { hasText: /^open$/ }).waitFor(WAIT);
      // 110 sends make 220 entries (sent and echoed) after the "connected" one.
      // Clicked from inside the page: 110 round trips through Playwright would take seconds each batch.
      await page.evaluate(() => {
        const input = document.getElementById('message') as HTMLTextAreaElement;
        const button = document.getElementById('send-text') as HTMLButtonElement;
        for (let i = 0; i < 110; i++) {
          input.value = `message ${i}`;
          button.click();
        }
      });
      await page.locator('#log li', { hasText: 'message 109' }).nth(1).waitFor(WAIT);
      assert.equal(await page.locator('#log > li').count(), 200);
      assert.equal(
        await page.locator('#log li', { hasText: 'connected' }).count(),
        0,
        'the oldest went first',
      );
      const scrolled = await page
        .locator('#log')
        .evaluate((log) => log.scrollHeight - log.scrollTop - log.clientHeight);
      assert.ok(scrolled < 8, 'the log follows the newest entry');
    } finally {
      await page.close();
    }
  });

  it('inspector: the handshake, and 我是阿宝哥 masked on the wire and unmasked', async () => {
    const page = await browser.context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    try {
      await page.goto(`${server.origin}/inspector.html`);
      await page.locator('#socket-state', { hasText: /^open$/ }).waitFor(WAIT);
      // The heads come over the inspector's feed, which may arrive after the open event.
      await page.locator('#request-head', { hasText: 'GET ' }).waitFor(WAIT);
      await page.locator('#response-head', { hasText: '101' }).waitFor(WAIT);
      const request = (await page.locator('#request-head').textContent()) ?? '';
      assert.match(request, /^GET \/ws\/echo\?session=[0-9a-f-]+ HTTP\/1\.1$/m);
      assert.match(request, /^Sec-WebSocket-Key: [A-Za-z0-9+/]{22}==$/m);
      assert.match(
        (await page.locator('#response-head').textContent()) ?? '',
        /^HTTP\/1\.1 101 Switching Protocols\nUpgrade: websocket/,
      );

      await page.locator('#message').fill(SEED_TEXT);
      await page.locator('#send-text').click();
      const sent = page.locator('#frames li', { hasText: 'browser to server: text' });
      const echoed = page.locator('#frames li', { hasText: 'server to browser: text' });
      await echoed.waitFor(WAIT);
      assert.equal(await field(page, '#frames li:nth-child(1)', 'FIN'), '1');
      assert.equal(await field(page, '#frames li:nth-child(1)', 'RSV1'), '0');
      assert.equal(await field(page, '#frames li:nth-child(1)', 'opcode'), '0x1 (text)');
      assert.equal(await field(page, '#frames li:nth-child(1)', 'MASK'), '1');
      assert.equal(await field(page, '#frames li:nth-child(1)', 'payload length'), '15');
      assert.equal(await field(page, '#frames li:nth-child(1)', 'payload (hex)'), SEED_HEX);
      assert.equal(await field(page, '#frames li:nth-child(1)', 'payload (text)'), JSON.stringify(SEED_TEXT));
      // Chromium picked a random key: the wire bytes must be the payload XOR key[i mod 4].
      const key = (await field(page, '#frames li:nth-child(1)', 'masking key'))
        .split(' ')
        .map((b) => Number.parseInt(b, 16));
      assert.equal(key.length, 4);
      const masked = (await field(page, '#frames li:nth-child(1)', 'masked payload')).split(' ');
      const expected = SEED_HEX.split(' ').map((b, i) =>
        (Number.parseInt(b, 16) ^ key[i % 4]!).toString(16).padStart(2, '0'),
      );
      assert.deepEqual(masked, expected);
      // The header as sent: FIN + text, MASK + 15, then the key.
      assert.equal(
        await field(page, '#frames li:nth-child(1)', 'header bytes'),
        `81 8f ${key.map((b) => b.toString(16).padStart(2, '0')).join(' ')}`,
      );
      // The walkthrough table shows the same XOR, column by column.
      const wireRow = await sent.locator('.xor tr').last().locator('td').allTextContents();
      assert.deepEqual(wireRow, expected);
      // The echo comes back unmasked, with no walkthrough.
      assert.equal(await field(page, '#frames li:nth-child(2)', 'MASK'), '0');
      assert.equal(await field(page, '#frames li:nth-child(2)', 'masking key'), 'none');
      assert.equal(await echoed.locator('.xor').count(), 0);

      // A binary frame larger than the feed shows: 1024 bytes in the record, the real length in the header.
      await page.locator('#message').fill('a'.repeat(3000));
      await page.locator('#send-binary').click();
      await page.locator('#frames li', { hasText: 'server to browser: binary' }).waitFor(WAIT);
      assert.equal(await field(page, '#frames li:nth-child(3)', 'opcode'), '0x2 (binary)');
      assert.equal(await field(page, '#frames li:nth-child(3)', 'payload length'), '3000');
      const shown = await field(page, '#frames li:nth-child(3)', 'payload (hex) (first 1024 bytes)');
      assert.equal(shown.split(' ').length, 1024);

      await page.locator('#close').click();
      await page.locator('#frames li', { hasText: 'browser to server: close' }).waitFor(WAIT);
      assert.equal(await field(page, '#frames li:nth-child(5)', 'close code'), '1000');
      assert.deepEqual(errors, []);
    } finally {
      await page.close();
    }
  });

  it('chat: two tabs see each other, with join and leave notices', async () => {
    const ada = await browser.context.newPage();
    const grace = await browser.context.newPage();
    try {
      for (const [page, name] of [
        [ada, 'Ada'],
        [grace, 'Grace'],
      ] as const) {
        await page.goto(`${server.origin}/chat.html`);
        await page.locator('#name').fill(name);
        await page.locator('#join').click();
        await page.locator('#state', { hasText: `in the room as ${name}` }).waitFor(WAIT);
      }
      await ada.locator('#lines li', { hasText: 'Grace joined.' }).waitFor(WAIT);
      assert.deepEqual(await grace.locator('#members li').allTextContents(), ['Ada', 'Grace (you)']);

      await grace.locator('#text').fill('hello from Grace');
      await grace.locator('#say-form button[type="submit"]').click();
      const line = ada.locator('#lines li.line', { hasText: 'hello from Grace' });
      await line.waitFor(WAIT);
      assert.equal(await line.locator('strong').textContent(), 'Grace');
      await grace.locator('#lines li.line.mine', { hasText: 'hello from Grace' }).waitFor(WAIT);

      await grace.locator('#leave').click();
      await ada.locator('#lines li', { hasText: 'Grace left.' }).waitFor(WAIT);
      assert.deepEqual(await ada.locator('#members li').allTextContents(), ['Ada (you)']);

      // A taken name is refused and the form comes back for another try.
      await grace.locator('#name').fill('Ada');
      await grace.locator('#join').click();
      await grace.locator('#state', { hasText: 'not joined: that name is taken' }).waitFor(WAIT);
      // The button comes back when the refused socket has closed (after the state line).
      await grace.locator('#join:enabled').waitFor(WAIT);
      await grace.locator('#name').fill('Grace');
      await grace.locator('#join').click();
      await grace.locator('#state', { hasText: 'in the room as Grace' }).waitFor(WAIT);
    } finally {
      await ada.close();
      await grace.close();
    }
  });
});
