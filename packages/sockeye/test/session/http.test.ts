/**
 * Sessions over the HTTP transports (SSE + POST, long-polling): the line format, and
 * both directions delivering exactly the sequences sent, over clean links and through a
 * fault proxy that cuts, black-holes and half-closes the HTTP connections.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import fc from 'fast-check';
import { type ClientTransport, SessionError } from '../../src/index.js';
import {
  decodeLine,
  encodeCloseLine,
  encodeFrameLine,
  encodeLinkLine,
  type FetchFunction,
} from '../../src/session/index.js';
import { FaultProxy } from './fault-proxy.js';
import { client, next, until } from './helpers.js';
import { listenHttpSessions } from './http-helpers.js';

describe('the line format of the HTTP transports', () => {
  it('carries any text frame as one line, and back', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.constantFrom('d\r\n', 'd\n\n', 'd"', 'd#')),
        (s) => {
          const frame = `d${s}`;
          const line = encodeFrameLine(frame);
          assert.ok(!/[\r\n]/.test(line));
          assert.deepEqual(decodeLine(line), { type: 'frame', frame });
        },
      ),
    );
  });

  it('carries any binary frame as one line of base64, and back', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const frame = new Uint8Array([0x64, ...bytes]);
        const line = encodeFrameLine(frame);
        assert.equal(line[0], '#');
        const decoded = decodeLine(line);
        assert.equal(decoded.type, 'frame');
        assert.deepEqual(decoded.type === 'frame' && [...(decoded.frame as Uint8Array)], [...frame]);
      }),
    );
  });

  it('leaves a frame without CR or LF as it is', () => {
    assert.equal(encodeFrameLine('dhello'), 'dhello');
    assert.equal(encodeFrameLine('a 5'), 'a 5');
    assert.equal(encodeFrameLine('dtwo\nlines'), '"dtwo\\nlines"');
  });

  it('has a link line and a close line', () => {
    assert.deepEqual(decodeLine(encodeLinkLine('abc_-1')), { type: 'link', id: 'abc_-1' });
    assert.deepEqual(decodeLine(encodeCloseLine(1012, 'retry-after=5')), {
      type: 'close',
      code: 1012,
      reason: 'retry-after=5',
    });
    assert.deepEqual(decodeLine(encodeCloseLine(1001)), { type: 'close', code: 1001, reason: '' });
    assert.equal(encodeCloseLine(1000, 'a\r\nb'), 'c 1000 a  b');
  });

  for (const bad of [
    '',
    '"unterminated',
    '"\\x"',
    '123',
    '#a',
    '#abc!',
    'l',
    'l bad id',
    'c',
    'c 12',
    'c x',
  ]) {
    it(`refuses the line ${JSON.stringify(bad)} as a SessionError`, () => {
      assert.throws(() => decodeLine(bad), SessionError);
    });
  }
});

/** What message `i` from `side` is; every third is binary, every fifth holds a line break. */
function message(side: 'c' | 's', i: number): string | Uint8Array {
  if (i % 3 === 2) return new TextEncoder().encode(`${side}${i}`);
  return i % 5 === 4 ? `${side}${i}\r\nnext line` : `${side}${i}`;
}
function label(data: unknown): string {
  if (typeof data === 'string') return data;
  return `bin:${new TextDecoder().decode(data as ArrayBuffer | Uint8Array)}`;
}
const expected = (side: 'c' | 's', count: number) =>
  Array.from({ length: count }, (_, i) => label(message(side, i)));

type Fault =
  | { kind: 'cut' }
  | { kind: 'cutAfter'; bytes: number }
  | { kind: 'blackhole' }
  | { kind: 'halfClose'; direction: 'up' | 'down' };

const fault: fc.Arbitrary<Fault> = fc.oneof(
  fc.record({ kind: fc.constant('cut' as const) }),
  fc.record({ kind: fc.constant('cutAfter' as const), bytes: fc.integer({ min: 0, max: 400 }) }),
  fc.record({ kind: fc.constant('blackhole' as const) }),
  fc.record({
    kind: fc.constant('halfClose' as const),
    direction: fc.constantFrom('up' as const, 'down' as const),
  }),
);

for (const transport of ['sse', 'long-polling'] as const satisfies readonly ClientTransport[]) {
  describe(`sessions over ${transport}`, { timeout: 240_000 }, () => {
    const COUNT = 30;
    let h: Awaited<ReturnType<typeof listenHttpSessions>>;
    const receivedBySession = new Map<string, string[]>();
    const senders = new Set<ReturnType<typeof setInterval>>();

    before(async () => {
      h = await listenHttpSessions(
        {
          sessions: {
            open: (session) => {
              receivedBySession.set(session.id, []);
              let i = 0;
              const timer = setInterval(() => {
                if (i === COUNT || session.state === 'closed') {
                  clearInterval(timer);
                  senders.delete(timer);
                  return;
                }
                session.send(message('s', i++));
              }, 4);
              senders.add(timer);
            },
            message: (session, data, isBinary) =>
              receivedBySession.get(session.id)!.push(isBinary ? label(data) : String(data)),
          },
        },
        { pollTimeout: 2000 },
      );
    });
    after(async () => {
      for (const timer of senders) clearInterval(timer);
      await h.close();
    });

    it('delivers both ways exactly what was sent, text (with line breaks) and binary', async () => {
      const c = client(h.url, { transports: [transport], transportMemory: null });
      const got: string[] = [];
      c.addEventListener('message', (event) => got.push(label((event as MessageEvent).data)));
      try {
        await next(c, 'open');
        assert.equal(c.transport, transport);
        const id = c.sessionId;
        assert.equal(h.server.sessionsById.get(id)?.transport, transport);
        for (let i = 0; i < COUNT; i++) c.send(message('c', i));
        await until(
          () => got.length >= COUNT && (receivedBySession.get(id)?.length ?? 0) >= COUNT,
          'both ways',
        );
        assert.deepEqual(receivedBySession.get(id), expected('c', COUNT));
        assert.deepEqual(got, expected('s', COUNT));
        await until(() => c.bufferedMessages === 0, 'the server acknowledged everything');
      } finally {
        c.close();
      }
    });

    it('ends the session for good when the client closes', async () => {
      const c = client(h.url, { transports: [transport], transportMemory: null });
      await next(c, 'open');
      const session = h.server.sessionsById.get(c.sessionId)!;
      c.close();
      await until(() => session.state === 'closed', 'the server saw the end');
    });

    it('ends the session when the way up is slower than the way down, with a POST in flight', async () => {
      // Each POST is held back, the first one longest: the last POST of close() must not
      // be overtaken by the stream's end, nor be refused for the POST it overtook.
      let posts = 0;
      const slowUp: FetchFunction = async (input, init) => {
        if (init?.method === 'POST') await delay(posts++ === 0 ? 150 : 50);
        return fetch(input, init);
      };
      const c = client(h.url, { transports: [transport], transportMemory: null, fetch: slowUp, ackDelay: 0 });
      const got: unknown[] = [];
      c.addEventListener('message', (event) => got.push((event as MessageEvent).data));
      await next(c, 'open');
      const session = h.server.sessionsById.get(c.sessionId)!;
      await until(() => got.length > 0 && posts > 0, 'a message and its acknowledgement on the way');
      c.send('last words');
      c.close();
      await until(() => session.state === 'closed', 'the server saw the end');
      assert.deepEqual(receivedBySession.get(session.id), ['last words']);
    });

    /** One run: apply each fault before client message `at`; both ways must equal what was sent. */
    async function run(schedule: readonly { at: number; fault: Fault }[]): Promise<number> {
      const proxy = new FaultProxy(h.port);
      const url = `${await proxy.listen()}/s`;
      const c = client(url, {
        transports: [transport],
        transportMemory: null,
        heartbeatInterval: 100,
        heartbeatTimeout: 400,
        connectTimeout: 2000,
        ackDelay: 5,
      });
      const got: string[] = [];
      let reconnects = 0;
      c.addEventListener('message', (event) => got.push(label((event as MessageEvent).data)));
      c.addEventListener('reconnecting', () => reconnects++);
      try {
        await next(c, 'open');
        const id = c.sessionId;
        for (let i = 0; i < COUNT; i++) {
          for (const step of schedule.filter((s) => s.at === i)) {
            const f = step.fault;
            if (f.kind === 'cut') proxy.cut();
            else if (f.kind === 'cutAfter') proxy.cutAfter(f.bytes);
            else if (f.kind === 'blackhole') proxy.blackhole();
            else proxy.halfClose(f.direction);
          }
          c.send(message('c', i));
          await new Promise((resolve) => setTimeout(resolve, 3));
        }
        await until(
          () => got.length >= COUNT && (receivedBySession.get(id)?.length ?? 0) >= COUNT,
          'every message both ways',
          60_000,
        );
        assert.equal(c.sessionId, id, 'the session resumed every time');
        assert.deepEqual(receivedBySession.get(id), expected('c', COUNT));
        assert.deepEqual(got, expected('s', COUNT));
        return reconnects;
      } finally {
        c.close();
        await proxy.close();
      }
    }

    const kinds: [string, Fault][] = [
      ['a cut', { kind: 'cut' }],
      ['a cut inside a request or answer', { kind: 'cutAfter', bytes: 40 }],
      ['a black hole (no FIN)', { kind: 'blackhole' }],
      ['a half-close towards the client', { kind: 'halfClose', direction: 'down' }],
      ['a half-close towards the server', { kind: 'halfClose', direction: 'up' }],
    ];
    for (const [name, f] of kinds) {
      it(`comes through ${name} with nothing lost, repeated or reordered`, async () => {
        const reconnects = await run([{ at: 10, fault: f }]);
        // Over SSE a stream is always open, so these faults break it. Over long-polling
        // they may break nothing: a fault between two polls meets no request, and a
        // half-closed request is still answered down the other half.
        if (transport === 'sse' && f.kind !== 'halfClose')
          assert.ok(reconnects >= 1, 'the fault broke the link');
      });
    }

    it('delivers every message exactly once and in order both ways, over random fault schedules', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.record({ at: fc.integer({ min: 0, max: COUNT - 1 }), fault }), {
            minLength: 1,
            maxLength: 4,
          }),
          async (schedule) => {
            await run(schedule);
          },
        ),
        { numRuns: 8 },
      );
    });
  });
}
