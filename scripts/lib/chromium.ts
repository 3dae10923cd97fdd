/**
 * Headless Chromium for tests and screenshots: Debian's /usr/bin/chromium driven by
 * playwright-core (never a downloaded browser), with a fresh profile per launch and the
 * flags that keep it off the network.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';
import { CHROMIUM } from './prereqs.js';

/** A running browser (one persistent context) and how to shut it down. */
export interface Browser {
  /** The browser context: open pages with `context.newPage()`. */
  context: BrowserContext;
  /** Close the browser and delete its profile. */
  close(): Promise<void>;
}

/** Options of {@link launchChromium}. */
export interface LaunchOptions {
  /**
   * Keep the back/forward cache on (playwright turns it off by default), for tests of
   * pages that go into it and come back.
   * @defaultValue false
   */
  backForwardCache?: boolean;
}

/** Launch headless Chromium with a fresh `--user-data-dir`. */
export async function launchChromium(options: LaunchOptions = {}): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), 'sockeye-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    ...(options.backForwardCache === true ? { ignoreDefaultArgs: ['--disable-back-forward-cache'] } : {}),
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-quic',
    ],
  });
  return {
    context,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * Poll an asynchronous `condition` (a page's state, read with `page.evaluate`) every 20 ms
 * until it holds; reject after `timeoutMs`, naming `what` (a hang guard, not a timing).
 */
export async function eventually(
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
