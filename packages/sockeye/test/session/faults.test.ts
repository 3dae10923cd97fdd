/**
 * Sessions over a link that breaks: a fault proxy between a ReconnectingWebSocket and a
 * SessionServer cuts, black-holes, half-closes and delays at random points, and what
 * each side's application receives must equal what the other sent: no loss, no
 * duplicate, no reordering, both ways.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import type { SessionServer } from '../../src/index.js';
import { FaultProxy } from './fault-proxy.js';
import { client, listenSessions, next, until } from './helpers.js';

/** Messages each way per run. */
const COUNT = 30;

type Fault =
  | { kind: 'cut' }
  | { kind: 'cutAfter'; bytes: number }
  | { kind: 'blackhole' }
  | { kind: 'halfClose'; direction: 'up' | 'down' }
  | { kind: 'delay'; ms: number };

const fault: fc.Arbitrary<Fault> = fc.oneof(
  fc.record({ kind: fc.constant('cut' as const) }),
  fc.record({ kind: fc.constant('cutAfter' as const), bytes: fc.integer({ min: 0, max: 200 }) }),
  fc.record({ kind: fc.constant('blackhole' as const) }),
  fc.record({
    kind: fc.constant('halfClose' as const),
    direction: fc.constantFrom('up' as const, 'down' as const),
  }),
  fc.record({ kind: fc.constant('delay' as const), ms: fc.integer({ min: 0, max: 30 }) }),
);

/** What a message number `i` from `side` looks like; every third one is binary. */
function message(side: 'c' | 's', i: number): string | Uint8Array {
  const text = `${side}${i}`;
  return i % 3 === 2 ? new TextEncoder().encode(text) : text;
}
function label(data: unknown): string {
  if (typeof data === 'string') return data;
  return `bin:${new TextDecoder().decode(data as ArrayBuffer | Uint8Array)}`;
}
const expected = (side: 'c' | 's') =>
  Array.from({ length: COUNT }, (_, i) => {
    const m = message(side, i);
    return typeof m === 'string' ? m : `bin:${side}${i}`;
  });

describe('sessions over a faulty link', { timeout: 240_000 }, () => {
  let server: SessionServer;
  let port: number;
  const receivedBySession = new Map<string, string[]>();
  const senders = new Set<ReturnType<typeof setInterval>>();

  before(async () => {
    ({ server, port } = await listenSessions({
      sessions: {
        open: (session) => {
          receivedBySession.set(session.id, []);
          // The server streams COUNT messages of its own, links or no links.
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
        message: (session, data) => receivedBySession.get(session.id)!.push(label(data)),
      },
    }));
  });
  after(async () => {
    for (const timer of senders) clearInterval(timer);
    await server.close({ timeout: 100 });
  });

  /** One run: the client sends COUNT messages, applying each fault before message `at`; returns the reconnects seen. */
  async function run(schedule: readonly { at: number; fault: Fault }[]): Promise<number> {
    const proxy = new FaultProxy(port);
    const url = await proxy.listen();
    const c = client(url, {
      heartbeatInterval: 100,
      heartbeatTimeout: 300,
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
          else if (f.kind === 'halfClose') proxy.halfClose(f.direction);
          else proxy.delay = f.ms;
        }
        c.send(message('c', i));
        await new Promise((resolve) => setTimeout(resolve, 3));
      }
      proxy.delay = 0;
      await until(
        () => got.length >= COUNT && (receivedBySession.get(id)?.length ?? 0) >= COUNT,
        'every message both ways',
        60_000,
      );
      assert.equal(c.sessionId, id, 'the session resumed every time');
      assert.deepEqual(receivedBySession.get(id), expected('c'));
      assert.deepEqual(got, expected('s'));
      return reconnects;
    } finally {
      c.close();
      await proxy.close();
    }
  }

  const kinds: [string, Fault][] = [
    ['a cut', { kind: 'cut' }],
    ['a cut inside a frame', { kind: 'cutAfter', bytes: 3 }],
    ['a black hole (no FIN)', { kind: 'blackhole' }],
    ['a half-close towards the client', { kind: 'halfClose', direction: 'down' }],
    ['a half-close towards the server', { kind: 'halfClose', direction: 'up' }],
  ];
  for (const [name, f] of kinds) {
    it(`resumes after ${name} with nothing lost, repeated or reordered`, async () => {
      const reconnects = await run([{ at: 10, fault: f }]);
      assert.ok(reconnects >= 1, 'the fault broke the link');
    });
  }

  it('delivers every message exactly once and in order both ways, over random fault schedules', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ at: fc.integer({ min: 0, max: COUNT - 1 }), fault }), {
          minLength: 1,
          maxLength: 5,
        }),
        async (schedule) => {
          await run(schedule);
        },
      ),
      { numRuns: 15 },
    );
  });
});
