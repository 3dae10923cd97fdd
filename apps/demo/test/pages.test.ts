/**
 * The built pages: the bundler's output, and the contract between each page's HTML and
 * its script (every element the script looks up exists, every control has a label).
 * The pages running in Chromium against the demo server are tested with that server.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  describeClose,
  parseProtocolList,
  readyStateName,
  shortText,
  socketUrl,
  spacedHex,
  spaceHexString,
} from '../src/browser/format.js';

const demo = join(dirname(fileURLToPath(import.meta.url)), '..');
const PAGES = ['handshake', 'protocol', 'flow', 'echo', 'inspector', 'chat', 'reconnect', 'lab'] as const;

describe('bundle.mjs', () => {
  let outdir = '';
  before(async () => {
    outdir = mkdtempSync(join(tmpdir(), 'sockeye-pages-'));
    await new Promise<void>((resolve, reject) => {
      execFile(
        process.execPath,
        [join(demo, 'scripts', 'bundle.mjs'), '--outdir', outdir],
        { timeout: 60_000 },
        (error, _stdout, stderr) =>
          error === null ? resolve() : reject(new Error(`${error.message}\n${stderr}`)),
      );
    });
  });
  after(() => rmSync(outdir, { recursive: true, force: true }));

  it("writes the landing page, the pages, their bundles and the stylesheets (uPlot's too)", () => {
    const files = readdirSync(outdir);
    for (const file of [
      'index.html',
      'style.css',
      'uplot.css',
      ...PAGES.flatMap((p) => [`${p}.html`, `${p}.js`, `${p}.js.map`]),
    ]) {
      assert.ok(files.includes(file), `${file} missing from ${files.join(' ')}`);
    }
  });

  for (const page of PAGES) {
    it(`${page}: the page loads its bundle, which imports nothing and needs nothing from Node`, () => {
      const html = readFileSync(join(outdir, `${page}.html`), 'utf8');
      assert.match(html, new RegExp(`<script type="module" src="${page}.js"></script>`));
      assert.match(html, /<link rel="stylesheet" href="style.css">/);
      const js = readFileSync(join(outdir, `${page}.js`), 'utf8');
      assert.doesNotMatch(
        js,
        /\bimport\s*[{*"']|\bfrom\s*"[^"]*";|require\(/,
        'a bundle must be self-contained',
      );
      assert.doesNotMatch(js, /node:|\bBuffer\b/, 'browser code must not use Node APIs');
    });
  }

  it('links every page from the landing page', () => {
    const html = readFileSync(join(outdir, 'index.html'), 'utf8');
    for (const page of PAGES) assert.match(html, new RegExp(`href="${page}.html"`));
  });
});

describe('pages and their scripts agree', () => {
  for (const page of PAGES) {
    const html = readFileSync(join(demo, 'pages', `${page}.html`), 'utf8');
    const script = readFileSync(join(demo, 'src', 'browser', `${page}.ts`), 'utf8');

    it(`${page}: every element the script looks up is on the page with the right tag`, () => {
      const tags: Record<string, string> = {
        HTMLButtonElement: 'button',
        HTMLFormElement: 'form',
        HTMLInputElement: 'input',
        HTMLTextAreaElement: 'textarea',
        HTMLSelectElement: 'select',
        HTMLOListElement: 'ol',
        HTMLUListElement: 'ul',
        HTMLTableSectionElement: 'tbody',
        HTMLElement: '[a-z]+',
      };
      const lookups = [...script.matchAll(/byId\('([^']+)', (\w+)\)/g)];
      assert.ok(lookups.length >= 5, 'the script looks elements up by id');
      for (const [, id, type] of lookups) {
        const tag = tags[type!];
        assert.ok(tag !== undefined, `unexpected element type ${type}`);
        assert.match(html, new RegExp(`<${tag}\\b[^>]*\\bid="${id}"`), `#${id} as <${tag}> on ${page}.html`);
      }
    });

    it(`${page}: every control has a label, and the page has a language, a title and one h1`, () => {
      for (const [, id] of html.matchAll(/<(?:input|textarea|select)\b[^>]*\bid="([^"]+)"/g)) {
        assert.match(html, new RegExp(`<label[^>]*for="${id}"`), `label for #${id}`);
      }
      assert.match(html, /<html lang="en">/);
      assert.match(html, /<title>[^<]+<\/title>/);
      assert.equal(html.match(/<h1\b/g)?.length, 1);
    });
  }
});

describe('page helpers', () => {
  it('builds the socket URL from the page location: same host and port, ws or wss', () => {
    assert.equal(socketUrl('http://127.0.0.1:8080/echo.html', '/ws/echo'), 'ws://127.0.0.1:8080/ws/echo');
    assert.equal(
      socketUrl('https://demo.example/inspector.html#x', '/ws/echo', { session: 'a b' }),
      'wss://demo.example/ws/echo?session=a+b',
    );
    assert.equal(socketUrl('http://[::1]:9000/chat.html?name=x', '/ws/chat'), 'ws://[::1]:9000/ws/chat');
  });

  it('formats bytes as spaced hex and bounds long ones', () => {
    assert.equal(spacedHex(Uint8Array.of(0xe6, 0x88, 0x91)), 'e6 88 91');
    assert.equal(spacedHex(new Uint8Array(300), 2), '00 00 … (298 more bytes)');
    assert.equal(spaceHexString('08f6efb1'), '08 f6 ef b1');
    assert.equal(spaceHexString(''), '');
  });

  it('cuts long text at whole characters and counts the rest', () => {
    assert.equal(shortText('我是阿宝哥', 2), '我是 … (3 more characters)');
    assert.equal(shortText('😀😀', 1), '😀 … (1 more character)');
    assert.equal(shortText('short'), 'short');
  });

  it('reads a typed subprotocol list', () => {
    assert.deepEqual(parseProtocolList(' chat, superchat  v2 '), ['chat', 'superchat', 'v2']);
    assert.deepEqual(parseProtocolList(''), []);
  });

  it('names ready states and close events', () => {
    assert.deepEqual([0, 1, 2, 3].map(readyStateName), ['connecting', 'open', 'closing', 'closed']);
    assert.equal(describeClose(1000, 'bye', true), '1000 (normal closure) "bye"');
    assert.equal(describeClose(1006, '', false), '1006 (connection lost, no close frame)');
    assert.equal(describeClose(4000, '', false), '4000, not clean');
  });
});
