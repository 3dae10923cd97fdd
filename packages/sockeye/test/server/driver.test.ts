/**
 * ServerWebSocket on the socket driver: the ordered send queue when a Blob cannot be read,
 * and the close record the core keeps (who closed first, which frames crossed).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ServerWebSocket } from '../../src/index.js';
import type { CloseRecord } from '../../src/protocol/index.js';
import { closeOf, inbox, listen, openWs, until } from './helpers.js';

/** A Blob whose bytes cannot be read (a file gone from disk, say). */
class UnreadableBlob extends Blob {
  override arrayBuffer(): Promise<ArrayBuffer> {
    return Promise.reject(new Error('the Blob could not be read'));
  }
}

describe('ServerWebSocket on the driver', { timeout: 60_000 }, () => {
  it('a Blob that cannot be read fails the connection with 1011 at once; what came before it still goes', async () => {
    const errors: unknown[] = [];
    const { server, url } = await listen({
      // A close the peer never answers would be dropped after closeTimeout: keep it long,
      // so that a close frame stuck behind the Blob shows as a timeout, not as a 1006.
      closeTimeout: 60_000,
      handlers: {
        message(ws) {
          ws.send('before');
          ws.send(new UnreadableBlob(['x']));
          ws.send('after');
        },
        error: (_ws, error) => errors.push(error),
      },
    });
    try {
      const client = await openWs(url);
      const closed = closeOf(client);
      client.send('go');
      assert.deepEqual(await closed, { code: 1011, reason: 'internal server error' });
      const received = inbox(client).map(({ data }) => data.toString());
      assert.equal(received[0], 'before');
      assert.ok(!received.includes('x'));
      assert.equal(errors.length, 1);
      assert.match(String(errors[0]), /could not be read/);
    } finally {
      await server.close();
    }
  });

  it('keeps the close record: the peer closed first, both frames crossed, the server ends TCP', async () => {
    let record: CloseRecord | null = null;
    const { server, url } = await listen({
      handlers: {
        close: (ws: ServerWebSocket) => {
          record = ws.closeRecord;
        },
      },
    });
    try {
      const client = await openWs(url);
      const closed = closeOf(client);
      client.close(4000, 'bye');
      assert.deepEqual(await closed, { code: 4000, reason: '' });
      await until(() => record !== null, 'the server to close');
      assert.deepEqual(record, {
        sent: { code: 4000, reason: '' },
        received: { code: 4000, reason: 'bye' },
        initiator: 'remote',
        wasClean: true,
        tcpClose: 'end',
      });
    } finally {
      await server.close();
    }
  });
});
