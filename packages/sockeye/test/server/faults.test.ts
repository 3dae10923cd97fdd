/**
 * Fault injection at every boundary of the server: a handler, the codec, the decoding of a
 * text message, a socket write and the broker each throw (or reject). Each time the
 * process goes on (an exception that escaped would fail this file as an uncaught
 * exception or an unhandled rejection), the connection concerned fails with 1011 and no
 * details on the wire, the error is reported with its cause, and another connection keeps
 * being served.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  type BrokerError,
  CloseCode,
  InProcessBroker,
  InternalError,
  type ServerWebSocket,
  type WebSocketServer,
} from '../../src/index.js';
import { HttpHeadParser, Opcode, PerMessageDeflateExtension } from '../../src/protocol/index.js';
import { failDecodingOf } from '../faults.js';
import { clientFrame, listen, RawClient, rawOpen, until, upgradeRequest } from './helpers.js';

/** What a fault makes a server report. */
interface Reports {
  errors: unknown[];
  closes: number[];
}

/** An echo server that records errors and close codes; `fault` runs on each message first. */
async function faultyEcho(
  fault: (ws: ServerWebSocket<{ path: string }>, data: string | Buffer) => void = () => {},
  options: { broker?: InProcessBroker } = {},
): Promise<{ server: WebSocketServer<{ path: string }>; port: number; reports: Reports }> {
  const reports: Reports = { errors: [], closes: [] };
  const { server, port } = await listen<{ path: string }>({
    ...options,
    authenticate: (request) => ({ path: request.url }),
    handlers: {
      message(ws, data, isBinary) {
        fault(ws, data);
        ws.send(data, isBinary);
      },
      close: (_ws, code) => reports.closes.push(code),
      error: (_ws, error) => reports.errors.push(error),
    },
  });
  return { server, port, reports };
}

/** The close frame a raw client received, waited for. */
async function closeFrameOf(client: RawClient): Promise<Buffer> {
  await client.waitFor(() => client.frames().some((f) => f.opcode === Opcode.Close), 'a close frame');
  return client.frames().find((f) => f.opcode === Opcode.Close)!.payload;
}

/** A raw client that sends a text message and gets it back. */
async function assertEchoes(client: RawClient, text: string): Promise<void> {
  const before = client.frames().length;
  client.write(clientFrame(Opcode.Text, text));
  await client.waitFor(() => client.frames().length > before, 'the echo');
  assert.equal(client.frames()[before]!.payload.toString(), text);
}

/** The report of an internal failure: an InternalError whose cause is `cause`. */
function assertInternal(reports: Reports, cause: (error: unknown) => boolean): void {
  assert.equal(reports.errors.length, 1, 'reported once');
  const error = reports.errors[0];
  assert.ok(error instanceof InternalError, `an InternalError, not ${String(error)}`);
  assert.ok(cause(error.cause), `the cause: ${String(error.cause)}`);
  assert.match(String(error.stack), /InternalError/);
}

describe('fault injection: the server survives an exception at each boundary', { timeout: 120_000 }, () => {
  it('a message handler that throws: 1011 for that connection, the others go on', async () => {
    const { server, port, reports } = await faultyEcho((ws, data) => {
      if (ws.data.path === '/bad' && data === 'boom') throw new Error('handler bug');
    });
    try {
      const good = await rawOpen(port, '/good');
      const bad = await rawOpen(port, '/bad');
      bad.write(clientFrame(Opcode.Text, 'boom'));
      const close = await closeFrameOf(bad);
      assert.equal(close.readUInt16BE(0), CloseCode.InternalError);
      assert.match(String(reports.errors[0]), /handler bug/);
      await assertEchoes(good, 'still here');
    } finally {
      await server.close({ timeout: 0 }); // the raw clients never answer a close
    }
  });

  describe('text decoding that throws (a message longer than V8 allows in a string)', () => {
    // Decoding 2^29 - 23 bytes throws ERR_STRING_TOO_LONG; the same failure is injected
    // here for one marked message rather than allocating 512 MiB.
    const MARKER = 'too long for a string, say';
    let restore = () => {};
    before(() => {
      restore = failDecodingOf(MARKER);
    });
    after(() => restore());

    it('fails that connection with 1011 (no reason), reports it, and serves the others', async () => {
      const { server, port, reports } = await faultyEcho();
      try {
        const good = await rawOpen(port, '/good');
        const bad = await rawOpen(port, '/bad');
        bad.write(clientFrame(Opcode.Text, MARKER));
        const close = await closeFrameOf(bad);
        assert.equal(close.readUInt16BE(0), CloseCode.InternalError);
        assert.equal(close.length, 2, 'no details for the peer');
        await bad.waitClosed();
        await until(() => reports.closes.length === 1, 'the close handler');
        assert.deepEqual(reports.closes, [CloseCode.InternalError]);
        assertInternal(reports, (cause) => (cause as { code?: string }).code === 'ERR_STRING_TOO_LONG');
        await assertEchoes(good, 'still here');
      } finally {
        await server.close({ timeout: 0 }); // the raw clients never answer a close
      }
    });
  });

  describe('a codec (zlib) that throws', () => {
    const MARKER = Buffer.from('not really deflate');
    const decodePart = PerMessageDeflateExtension.prototype.decodePart;
    before(() => {
      PerMessageDeflateExtension.prototype.decodePart = function (data, fin, maxPayload) {
        if (data.equals(MARKER)) throw new Error('zlib: writeSync failed');
        return decodePart.call(this, data, fin, maxPayload);
      };
    });
    after(() => {
      PerMessageDeflateExtension.prototype.decodePart = decodePart;
    });

    it('fails that connection with 1011, reports it, and serves the others', async () => {
      const { server, port, reports } = await faultyEcho();
      try {
        const deflate = { 'Sec-WebSocket-Extensions': 'permessage-deflate' };
        const good = await rawOpen(port, '/good', deflate);
        const bad = await rawOpen(port, '/bad', deflate);
        bad.write(clientFrame(Opcode.Binary, MARKER, { rsv: 4 }));
        const close = await closeFrameOf(bad);
        assert.equal(close.readUInt16BE(0), CloseCode.InternalError);
        assert.equal(close.length, 2);
        assertInternal(reports, (cause) => /writeSync failed/.test(String(cause)));
        await assertEchoes(good, 'still here');
      } finally {
        await server.close({ timeout: 0 }); // the raw clients never answer a close
      }
    });
  });

  it('a socket write that throws: that connection is dropped (1011 to the handlers), the others go on', async () => {
    const { server, port, reports } = await faultyEcho((ws, data) => {
      if (ws.data.path !== '/bad' || data !== 'break the socket') return;
      (ws._socket as { write: unknown }).write = () => {
        throw new Error('write failed');
      };
    });
    try {
      const good = await rawOpen(port, '/good');
      const bad = await rawOpen(port, '/bad');
      bad.write(clientFrame(Opcode.Text, 'break the socket'));
      await bad.waitClosed();
      await until(() => reports.closes.length === 1, 'the close handler');
      assert.deepEqual(reports.closes, [CloseCode.InternalError]);
      assertInternal(reports, (cause) => /write failed/.test(String(cause)));
      await assertEchoes(good, 'still here');
    } finally {
      await server.close({ timeout: 0 }); // the raw clients never answer a close
    }
  });

  it('without an error handler or listener, the process warning carries the stack and the cause', async () => {
    const { server, port } = await listen({
      handlers: {
        message(ws) {
          (ws._socket as { write: unknown }).write = () => {
            throw new Error('write failed');
          };
          ws.send('x');
        },
      },
    });
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const client = await rawOpen(port);
      client.write(clientFrame(Opcode.Text, 'go'));
      await client.waitClosed();
      await until(() => warnings.some((w) => /sockeye/.test(w.message)), 'the warning');
      const warning = warnings.find((w) => /sockeye/.test(w.message))!;
      assert.match(warning.message, /InternalError: internal error: write failed\n\s+at /);
      assert.match(warning.message, /\[cause\]: Error: write failed\n\s+at /);
    } finally {
      process.off('warning', onWarning);
      await server.close({ timeout: 0 }); // the raw clients never answer a close
    }
  });

  it('the handshake parser that throws (a bug, not the client): 500, reported, the server goes on', async () => {
    const push = HttpHeadParser.prototype.push;
    HttpHeadParser.prototype.push = function (this: HttpHeadParser<never>, chunk: Buffer) {
      if (chunk.includes('X-Fault: yes')) throw new TypeError('parser bug');
      return push.call(this, chunk);
    } as typeof push;
    const { server, port } = await faultyEcho();
    const errors: unknown[] = [];
    server.on('error', (error) => errors.push(error));
    try {
      const bad = await RawClient.connect(port);
      bad.write(upgradeRequest('/', { 'X-Fault': 'yes' }, port));
      assert.equal((await bad.response()).status, 500);
      assert.equal(errors.length, 1);
      assert.ok(errors[0] instanceof InternalError);
      assert.ok(errors[0].cause instanceof TypeError);
      await assertEchoes(await rawOpen(port, '/good'), 'still here');
    } finally {
      HttpHeadParser.prototype.push = push;
      await server.close({ timeout: 0 }); // the raw clients never answer a close
    }
  });

  it('a broker that throws and rejects (against its contract): reported as brokerError, publishes go on locally', async () => {
    const broker = new InProcessBroker();
    broker.subscribe = (topic: string) => {
      if (topic === 'throws') throw new Error('subscribe threw');
      return Promise.reject(new Error('subscribe rejected'));
    };
    broker.unsubscribe = () => Promise.reject(new Error('unsubscribe rejected'));
    broker.publish = () => {
      throw new Error('publish threw');
    };
    const { server, port, reports } = await faultyEcho(
      (ws, data) => {
        const [verb, topic] = String(data).split(' ');
        if (verb === 'sub') ws.subscribe(topic!);
        if (verb === 'unsub') ws.unsubscribe(topic!);
        if (verb === 'pub') ws.publish(topic!, `news on ${topic}`);
      },
      { broker },
    );
    const brokerErrors: BrokerError[] = [];
    server.on('brokerError', (error) => brokerErrors.push(error));
    try {
      const listener = await rawOpen(port, '/listener');
      const publisher = await rawOpen(port, '/publisher');
      await assertEchoes(listener, 'sub throws');
      await assertEchoes(listener, 'sub rejects');
      await assertEchoes(publisher, 'pub rejects');
      await listener.waitFor(
        () => listener.frames().some((f) => f.payload.toString() === 'news on rejects'),
        'the local publish',
      );
      await assertEchoes(listener, 'unsub rejects');
      await until(() => brokerErrors.length === 4, 'four broker errors');
      assert.deepEqual(
        brokerErrors.map((error) => [error.kind, String((error.cause as Error).message)]).sort(),
        [
          ['publish', 'publish threw'],
          ['subscribe', 'subscribe rejected'],
          ['subscribe', 'subscribe threw'],
          ['subscribe', 'unsubscribe rejected'],
        ],
      );
      assert.deepEqual(reports.errors, [], 'no connection failed for it');
      await assertEchoes(publisher, 'still here');
    } finally {
      await server.close({ timeout: 0 }); // the raw clients never answer a close
    }
  });
});
