/** The publishing loop both SSE benchmark servers share, so they differ only in how they write. */

/** How many messages are published per event-loop turn (then the writes get a turn). */
const BATCH = 20;

/**
 * Publish `count` messages of `size` bytes (from the `/publish?count=N&size=S` URL) with
 * `publish`, `BATCH` per event-loop turn.
 */
export async function publishLoop(url: string, publish: (payload: string) => void): Promise<void> {
  const query = new URL(url, 'http://localhost').searchParams;
  const count = Number(query.get('count') ?? 100);
  const payload = 'x'.repeat(Number(query.get('size') ?? 64));
  for (let i = 0; i < count; i++) {
    publish(payload);
    if (i % BATCH === BATCH - 1) await new Promise((resolve) => setImmediate(resolve));
  }
}
