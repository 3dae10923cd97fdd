/**
 * `npm run screenshots`: start the demo server the way `npm start` does (on a free
 * port), drive each page in headless Chromium (Debian's, through scripts/lib/chromium.ts)
 * into a state worth showing, and write PNGs to docs/screenshots/.
 *
 *   index.png      the landing page
 *   handshake.png  the browser's request, Sec-WebSocket-Accept derived step by step, the 101
 *   protocol.png   the header of a 200-byte frame bit by bit, a fragmented message, ping/pong
 *   protocol-close.png  a close from the server with its code and reason, and the CloseEvent
 *   protocol-deflate.png  permessage-deflate: RSV1, the compressed bytes, the inflated message
 *   flow.png       bufferedAmount while sending 4 MiB at once, and the round-trip chart
 *   lab.png        the transport lab: 100 messages over each of the five transports, measured
 *   echo.png       我是阿宝哥 sent as text, Blob and ArrayBuffer, with the echoes
 *   inspector.png  the handshake and the masked frame of 我是阿宝哥 with the XOR walkthrough
 *   chat.png       two members talking, seen by one of them
 *   chat-format.png  the chat's message format and the sockeye connect command
 *   reconnect.png  the Reconnect page after a cut and a server restart: states, backoff, queue
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { launchChromium } from './lib/chromium.js';
import { ROOT } from './lib/prereqs.js';
import { freePort, startProcess } from './lib/process.js';

const OUT = join(ROOT, 'docs', 'screenshots');
const WAIT = { timeout: 30_000 };
const VIEWPORT = { width: 1200, height: 860 };

async function shoot(page: Page, name: string, fullPage = false): Promise<void> {
  // Let the last layout and font loads settle before the picture.
  await page.evaluate(() => document.fonts.ready.then(() => undefined));
  await page.screenshot({ path: join(OUT, `${name}.png`), fullPage });
  console.log(`wrote docs/screenshots/${name}.png`);
}

const port = await freePort();
// A fresh state file: no chat history or sessions from an earlier run on this port.
const stateDir = mkdtempSync(join(tmpdir(), 'sockeye-screenshots-'));
const server = await startProcess(
  process.execPath,
  [join(ROOT, 'scripts', 'start.mjs'), '--port', String(port)],
  /listening on http:\/\/127\.0\.0\.1:\d+/,
  {
    cwd: ROOT,
    timeoutMs: 120_000,
    env: { ...process.env, SOCKEYE_DEMO_STATE: join(stateDir, 'state.json') },
  },
);
const origin = `http://127.0.0.1:${port}`;
const browser = await launchChromium();
try {
  mkdirSync(OUT, { recursive: true });
  const newPage = async () => {
    const page = await browser.context.newPage();
    await page.setViewportSize(VIEWPORT);
    return page;
  };

  const index = await newPage();
  await index.goto(`${origin}/`);
  await shoot(index, 'index');

  const handshake = await newPage();
  await handshake.goto(`${origin}/handshake.html`);
  await handshake.locator('#accept-check[data-ok="true"]').waitFor(WAIT);
  await shoot(handshake, 'handshake', true);

  const protocol = await newPage();
  await protocol.goto(`${origin}/protocol.html`);
  await protocol.locator('#socket-state', { hasText: /^open$/ }).waitFor(WAIT);
  await protocol.locator('#send-200').click();
  await protocol.locator('#length-encoding[data-encoding="16-bit"]').waitFor(WAIT);
  await protocol.locator('#send-fragmented').click();
  await protocol.locator('#fragment-result', { hasText: 'frames on the wire' }).waitFor(WAIT);
  await protocol.locator('#ping').click();
  await protocol.locator('#ping-result', { hasText: 'pong' }).waitFor(WAIT);
  // The trace follows the newest frame; show it from the fragmented message on.
  await protocol
    .locator('#trace > li[data-opcode="text"][data-fin="false"]')
    .evaluate((item) =>
      item.parentElement!.scrollTo(0, (item as HTMLElement).offsetTop - item.parentElement!.offsetTop),
    );
  await shoot(protocol, 'protocol', true);
  await protocol.locator('#server-close').click();
  await protocol.locator('#close-event-clean', { hasText: 'true' }).waitFor(WAIT);
  await protocol.locator('#close-heading').scrollIntoViewIfNeeded();
  await shoot(protocol, 'protocol-close');
  await protocol.locator('#deflate').check();
  await protocol.locator('#extensions', { hasText: /^permessage-deflate/ }).waitFor(WAIT);
  await protocol.locator('#socket-state', { hasText: /^open$/ }).waitFor(WAIT);
  await protocol.locator('#send-200').click();
  await protocol
    .locator('#trace > li[data-kind="inflated"][data-direction="server-to-client"]')
    .waitFor(WAIT);
  await protocol.locator('#trace-heading').scrollIntoViewIfNeeded();
  await shoot(protocol, 'protocol-deflate');

  const flow = await newPage();
  await flow.goto(`${origin}/flow.html`);
  await flow.locator('#sink-state', { hasText: /^open$/ }).waitFor(WAIT);
  await flow.locator('#flood').click();
  await flow.locator('#buffer-status[data-state="drained"]').waitFor(WAIT);
  await flow.locator('#latency-count', { hasText: /^([5-9]|\d\d+)$/ }).waitFor(WAIT);
  await shoot(flow, 'flow', true);

  const lab = await newPage();
  await lab.goto(`${origin}/lab.html?count=100&interval=20&poll=250&run`);
  await lab.locator('body[data-lab="done"]').waitFor({ timeout: 240_000 });
  await shoot(lab, 'lab', true);

  const echo = await newPage();
  await echo.goto(`${origin}/echo.html`);
  await echo.locator('#state', { hasText: /^open$/ }).waitFor(WAIT);
  await echo.locator('#message').fill('我是阿宝哥');
  await echo.locator('#send-text').click();
  await echo.locator('#log li', { hasText: 'echo received as string' }).waitFor(WAIT);
  await echo.locator('#send-blob').click();
  await echo.locator('#log li', { hasText: 'echo received as Blob' }).waitFor(WAIT);
  await echo.locator('#binary-type').selectOption('arraybuffer');
  await echo.locator('#send-arraybuffer').click();
  await echo.locator('#log li', { hasText: 'echo received as ArrayBuffer' }).waitFor(WAIT);
  await shoot(echo, 'echo', true);

  const inspector = await newPage();
  await inspector.goto(`${origin}/inspector.html`);
  await inspector.locator('#socket-state', { hasText: /^open$/ }).waitFor(WAIT);
  await inspector.locator('#message').fill('我是阿宝哥');
  await inspector.locator('#send-text').click();
  await inspector.locator('#frames li', { hasText: 'server to browser: text' }).waitFor(WAIT);
  // The log follows the newest frame; show the first one, the masked frame, from its top.
  await inspector.locator('#frames').evaluate((log) => {
    log.scrollTop = 0;
  });
  await shoot(inspector, 'inspector', true);

  const ada = await newPage();
  const grace = await newPage();
  for (const [page, name] of [
    [ada, 'Ada'],
    [grace, 'Grace'],
  ] as const) {
    await page.goto(`${origin}/chat.html`);
    await page.locator('#name').fill(name);
    await page.locator('#join').click();
    await page.locator('#state', { hasText: `in the room as ${name}` }).waitFor(WAIT);
  }
  const say = async (page: Page, text: string) => {
    await page.locator('#text').fill(text);
    await page.locator('#say-form button[type="submit"]').click();
    await ada.locator('#lines li.line', { hasText: text }).waitFor(WAIT);
  };
  await say(grace, 'Hello Ada! Is this one frame per message?');
  await say(ada, 'One text frame each, masked on the way in. Open the inspector to see it.');
  await say(grace, '我是阿宝哥 also works: UTF-8 all the way.');
  await shoot(ada, 'chat');
  await ada.locator('#format-heading').scrollIntoViewIfNeeded();
  await shoot(ada, 'chat-format');

  const reconnect = await newPage();
  await reconnect.goto(`${origin}/reconnect.html`);
  await reconnect.locator('#state', { hasText: /^open$/ }).waitFor(WAIT);
  await reconnect.locator('#log li', { hasText: 'tick #3' }).waitFor(WAIT);
  await reconnect.locator('#cut').click();
  await reconnect.locator('#links', { hasText: '1 resumed' }).waitFor(WAIT);
  await reconnect.locator('#text').fill('sent while the server restarts');
  await reconnect.locator('#restart').click();
  await reconnect.locator('#timeline li.reconnecting', { hasText: '1012' }).waitFor(WAIT);
  await reconnect.locator('#send').click();
  await reconnect.locator('#links', { hasText: '2 resumed' }).waitFor(WAIT);
  await reconnect.locator('#log li', { hasText: 'echo: sent while the server restarts' }).waitFor(WAIT);
  await shoot(reconnect, 'reconnect', true);
} finally {
  await browser.close();
  await server.stop();
  rmSync(stateDir, { recursive: true, force: true });
}
