/**
 * The long-polling link reads a poll answer into memory: from a server whose answer is
 * larger than `MAX_POLL_ANSWER_BYTES` it takes at most that much (plus a
 * chunk), then cancels the body and fails the link with 1009. A `fetch` stub plays the
 * server (a body streamed 1 MiB at a time, or a declared `Content-Length`).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HttpSessionLink, MAX_POLL_ANSWER_BYTES } from '../../src/session/http-link.js';

const CHUNK = new Uint8Array(1024 * 1024).fill(0x61); // 'a': a line that never ends

/** Open a long-polling link whose first poll gets `response`; resolves with its close event. */
function closeOf(response: () => Response): Promise<{ code?: number; reason?: string }> {
  const link = new HttpSessionLink('http://127.0.0.1:1/s', 'long-polling', {
    fetch: async () => response(),
  });
  return new Promise((resolve) => {
    link.onclose = (event) => resolve({ code: event.code, reason: event.reason });
    link.send('h'); // the hello: the first poll goes out
  });
}

describe('HttpSessionLink: a poll answer past the bound', { timeout: 60_000 }, () => {
  it('stops reading a body past MAX_POLL_ANSWER_BYTES, and fails the link with 1009', async () => {
    let pulled = 0;
    let cancelled = false;
    const oversized = () =>
      new Response(
        new ReadableStream<Uint8Array>({
          pull(controller) {
            // Past the bound by 8 MiB, then the end (so that a reader without a bound
            // finishes too, rather than grow until the test's timeout).
            if (pulled >= MAX_POLL_ANSWER_BYTES + 8 * CHUNK.byteLength) return controller.close();
            pulled += CHUNK.byteLength;
            controller.enqueue(CHUNK);
          },
          cancel() {
            cancelled = true;
          },
        }),
        { headers: { 'content-type': 'text/plain; charset=utf-8' } },
      );
    const closed = await closeOf(oversized);
    assert.deepEqual(closed, { code: 1009, reason: 'poll answer too large' });
    assert.ok(cancelled, 'the body was cancelled');
    // The stream pulls ahead by a few chunks at most.
    assert.ok(pulled <= MAX_POLL_ANSWER_BYTES + 4 * CHUNK.byteLength, `${pulled} bytes were pulled`);
  });

  it('refuses a declared Content-Length past the bound without reading it', async () => {
    let pulled = 0;
    const declared = () =>
      new Response(
        new ReadableStream<Uint8Array>({
          pull(controller) {
            if (pulled >= MAX_POLL_ANSWER_BYTES + 8 * CHUNK.byteLength) return controller.close();
            pulled += CHUNK.byteLength;
            controller.enqueue(CHUNK);
          },
        }),
        {
          headers: {
            'content-type': 'text/plain; charset=utf-8',
            'content-length': String(MAX_POLL_ANSWER_BYTES + 1),
          },
        },
      );
    const closed = await closeOf(declared);
    assert.deepEqual(closed, { code: 1009, reason: 'poll answer too large' });
    assert.ok(pulled <= CHUNK.byteLength, `${pulled} bytes were pulled`);
  });
});
