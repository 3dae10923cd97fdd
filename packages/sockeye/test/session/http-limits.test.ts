/**
 * The HTTP transports against hostile and careless clients, in raw HTTP on loopback:
 * every bound (body size, POST rate, one poll at a time, hold time, idle links, slow SSE
 * readers) is hit, and a malformed or refused request changes nothing of the session.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { HandshakeError, type ServerSession, type SessionHttpTransportOptions } from '../../src/index.js';
import { client, next, until } from './helpers.js';
import { listenHttpSessions } from './http-helpers.js';

type Harness = Awaited<ReturnType<typeof listenHttpSessions<undefined>>>;

/** A server that records what each session receives. */
async function harness(options: Omit<SessionHttpTransportOptions<undefined>, 'server'> = {}) {
  const received = new Map<string, string[]>();
  const sessions = new Map<string, ServerSession>();
  const h = await listenHttpSessions(
    {
      sessions: {
        open: (session) => {
          received.set(session.id, []);
          sessions.set(session.id, session);
        },
        message: (session, data) => received.get(session.id)!.push(String(data)),
      },
    },
    options,
  );
  return { h, received, sessions };
}

function lines(body: string): string[] {
  return body.split('\n').filter((line) => line !== '');
}

/** Open a long-polling link for a new session (or the one `hello` names). */
async function openPoll(h: Harness, hello = 'h 0') {
  const response = await fetch(`${h.base}?transport=long-polling&hello=${encodeURIComponent(hello)}`);
  assert.equal(response.status, 200);
  const [linkLine, welcome, ...rest] = lines(await response.text());
  assert.match(linkLine!, /^l /);
  assert.match(welcome!, /^w /);
  const [, session, epoch] = welcome!.split(' ');
  return { link: linkLine!.slice(2), session: session!, epoch: epoch!, welcome: welcome!, rest };
}

function post(h: Harness, link: string, from: number, body: string | Uint8Array): Promise<Response> {
  return fetch(`${h.base}?link=${link}&from=${from}`, {
    method: 'POST',
    body: typeof body === 'string' ? body : new Uint8Array(body),
  });
}

function poll(h: Harness, link: string, since: number): Promise<Response> {
  return fetch(`${h.base}?link=${link}&since=${since}`);
}

describe('HTTP transports: requests that are not the protocol', () => {
  let t: Awaited<ReturnType<typeof harness>>;
  before(async () => {
    t = await harness();
  });
  after(() => t.h.close());

  const refusals: [string, () => Promise<Response>, number][] = [
    ['a plain GET (a WebSocket handshake whose Upgrade a proxy stripped)', () => fetch(t.h.base), 426],
    ['an unknown transport', () => fetch(`${t.h.base}?transport=carrier-pigeon&hello=h%200`), 400],
    ['a missing hello', () => fetch(`${t.h.base}?transport=sse`), 400],
    ['a malformed hello', () => fetch(`${t.h.base}?transport=sse&hello=h%20x`), 400],
    ['a frame other than a hello', () => fetch(`${t.h.base}?transport=long-polling&hello=a%201`), 400],
    ['a poll of an unknown link', () => poll(t.h, 'nope', 0), 404],
    ['a POST to an unknown link', () => post(t.h, 'nope', 0, 'dhi'), 404],
    ['a POST without from', () => fetch(`${t.h.base}?link=nope`, { method: 'POST', body: 'dhi' }), 400],
    ['a PUT', () => fetch(`${t.h.base}?link=nope`, { method: 'PUT', body: 'x' }), 405],
  ];
  for (const [name, send, status] of refusals) {
    it(`answers ${status} to ${name}`, async () => {
      const response = await send();
      assert.equal(response.status, status);
      await response.arrayBuffer();
    });
  }

  it('leaves other paths to the other listeners (404 when it is the only one)', async () => {
    const response = await fetch(`http://127.0.0.1:${t.h.port}/elsewhere`);
    assert.equal(response.status, 404);
  });

  it('starts a new session for a hello naming an unknown session', async () => {
    const opened = await openPoll(t.h, 'h 3 nosuchsession epoch1');
    assert.notEqual(opened.session, 'nosuchsession');
    assert.match(opened.welcome, / 0 n$/);
  });
});

describe('HTTP transports: POST bodies', () => {
  let t: Awaited<ReturnType<typeof harness>>;
  before(async () => {
    t = await harness({ maxBodyBytes: 1024 });
  });
  after(() => t.h.close());

  const malformed: [string, string | Uint8Array][] = [
    ['a line of no known form', 'dok\nzzz'],
    ['a bad JSON line', 'dok\n"unterminated'],
    ['bad base64', 'dok\n#@@@'],
    ['a binary frame not starting with d', `dok\n#${btoa('zz')}`],
    ['a hello', 'dok\nh 0'],
    ['a welcome', 'dok\nw a b 0 n'],
    ['a link line', 'dok\nl abc'],
    ['an acknowledgement of a message never sent', 'dok\na 99'],
    ['a malformed acknowledgement', 'dok\na 01'],
    ['bytes that are not UTF-8', new Uint8Array([0x64, 0xff, 0xfe])],
  ];
  for (const [name, body] of malformed) {
    it(`answers 400 to ${name}, and the session loses nothing`, async () => {
      const { link, session } = await openPoll(t.h);
      const refused = await post(t.h, link, 0, body);
      assert.equal(refused.status, 400);
      assert.deepEqual(t.received.get(session), [], 'nothing of the refused body counted');
      assert.equal(t.sessions.get(session)!.state, 'linked');
      const accepted = await post(t.h, link, 0, 'dfirst\ndsecond');
      assert.equal(accepted.status, 204);
      assert.deepEqual(t.received.get(session), ['first', 'second']);
    });
  }

  it('answers 413 to a body over maxBodyBytes (declared), and the session loses nothing', async () => {
    const { link, session } = await openPoll(t.h);
    const response = await post(t.h, link, 0, `d${'x'.repeat(2000)}`);
    assert.equal(response.status, 413);
    assert.equal((await post(t.h, link, 0, 'dafter')).status, 204);
    assert.deepEqual(t.received.get(session), ['after']);
  });

  it('answers 413 to a chunked body that grows past maxBodyBytes', async () => {
    const { link, session } = await openPoll(t.h);
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${t.h.base}?link=${link}&from=0`, { method: 'POST' }, (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      });
      req.on('error', reject);
      // No content-length: chunks until the server stops it (bounded: 64 chunks of 100 bytes).
      let sent = 0;
      const write = () => {
        while (sent < 64 && req.write(`d${'y'.repeat(99)}\n`)) sent++;
        if (sent < 64) req.once('drain', write);
        else req.end();
      };
      write();
    });
    assert.equal(status, 413);
    assert.equal((await post(t.h, link, 0, 'dafter')).status, 204);
    assert.deepEqual(t.received.get(session), ['after']);
  });

  it('takes a POST sent again once, and refuses one that skips frames (409)', async () => {
    const { link, session } = await openPoll(t.h);
    assert.equal((await post(t.h, link, 0, 'dm1')).status, 204);
    // The answer was lost, say: the client sends it again with what came since.
    assert.equal((await post(t.h, link, 0, 'dm1\ndm2')).status, 204);
    assert.equal((await post(t.h, link, 5, 'dm9')).status, 409);
    assert.equal((await post(t.h, link, 2, 'dm3')).status, 204);
    assert.deepEqual(t.received.get(session), ['m1', 'm2', 'm3']);
  });

  it('releases a link on request: the session is suspended and in the store when the answer comes', async () => {
    const { link, session, epoch } = await openPoll(t.h);
    const released = await fetch(`${t.h.base}?link=${link}&release=1`, { method: 'POST', body: '' });
    assert.equal(released.status, 204);
    assert.equal(t.sessions.get(session)!.state, 'suspended');
    assert.equal((await post(t.h, link, 0, 'dlate')).status, 404, 'the link is gone');
    const again = await fetch(`${t.h.base}?link=${link}&release=1`, { method: 'POST', body: '' });
    assert.equal(again.status, 404);
    const resumed = await openPoll(t.h, `h 0 ${session} ${epoch}`);
    assert.match(resumed.welcome, / r$/);
  });

  it('refuses a POST to a link the session has left (404): a late request never counts twice', async () => {
    const first = await openPoll(t.h);
    const moved = await openPoll(t.h, `h 0 ${first.session} ${first.epoch}`);
    assert.equal(moved.session, first.session);
    assert.match(moved.welcome, / r$/);
    assert.equal((await post(t.h, first.link, 0, 'dlate')).status, 404);
    assert.equal((await post(t.h, moved.link, 0, 'dnew')).status, 204);
    assert.deepEqual(t.received.get(first.session), ['new']);
  });
});

describe('HTTP transports: POST rate per session', () => {
  let t: Awaited<ReturnType<typeof harness>>;
  before(async () => {
    // A token every 4 s: the three POSTs below must come within 4 s for the third to be
    // refused, which holds on a loaded machine too (at 2 per second it did not always).
    t = await harness({ postRate: 0.25, postBurst: 2 });
  });
  after(() => t.h.close());

  it('answers 429 with Retry-After past the rate, and the refused body counts once sent again', async () => {
    const { link, session } = await openPoll(t.h);
    assert.equal((await post(t.h, link, 0, 'd1')).status, 204);
    assert.equal((await post(t.h, link, 1, 'd2')).status, 204);
    const limited = await post(t.h, link, 2, 'd3');
    assert.equal(limited.status, 429);
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
    assert.deepEqual(t.received.get(session), ['1', '2']);
    let status = 429;
    for (let i = 0; i < 200 && status === 429; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      status = (await post(t.h, link, 2, 'd3')).status;
    }
    assert.equal(status, 204);
    assert.deepEqual(t.received.get(session), ['1', '2', '3']);
  });
});

describe('HTTP transports: polls', () => {
  let t: Awaited<ReturnType<typeof harness>>;
  before(async () => {
    t = await harness({ pollTimeout: 300 });
  });
  after(() => t.h.close());

  it('answers a held poll with nothing once the hold time passes, and the link goes on', async () => {
    const { link, session } = await openPoll(t.h);
    const response = await poll(t.h, link, 1);
    assert.equal(response.status, 200);
    assert.equal(await response.text(), '');
    t.sessions.get(session)!.send('later');
    const next = await poll(t.h, link, 1);
    assert.deepEqual(lines(await next.text()), ['dlater']);
  });

  it('ends a held poll when a second one comes (one poll at a time per link)', async () => {
    const { link, session } = await openPoll(t.h);
    let requests = 0;
    const count = () => requests++;
    t.h.http.on('request', count);
    const first = poll(t.h, link, 1);
    // A poll is held as soon as its request arrives: send the second only then.
    await until(() => requests === 1, 'the first poll at the server');
    t.h.http.off('request', count);
    const second = poll(t.h, link, 1);
    const ended = await first;
    assert.equal(ended.status, 200);
    assert.equal(await ended.text(), '');
    t.sessions.get(session)!.send('to the second');
    assert.deepEqual(lines(await (await second).text()), ['dto the second']);
  });

  it('sends again what a poll answer lost: the next poll says what arrived', async () => {
    const { link, session } = await openPoll(t.h);
    t.sessions.get(session)!.send('one');
    assert.deepEqual(lines(await (await poll(t.h, link, 1)).text()), ['done']);
    // That answer "was lost": polling again from 1 gets it again, and what came since.
    t.sessions.get(session)!.send('two');
    assert.deepEqual(lines(await (await poll(t.h, link, 1)).text()), ['done', 'dtwo']);
    assert.equal((await poll(t.h, link, 9)).status, 400);
  });
});

describe('HTTP transports: idle links', () => {
  let t: Awaited<ReturnType<typeof harness>>;
  before(async () => {
    t = await harness({ idleTimeout: 300, heartbeatInterval: 50 });
  });
  after(() => t.h.close());

  it('closes an SSE stream whose client makes no request (1001), after comment heartbeats; the session waits', async () => {
    const response = await fetch(`${t.h.base}?transport=sse&hello=h%200`);
    assert.equal(response.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    const text = await response.text(); // ends when the server closes the stream
    assert.match(text, /^retry: \d+\n\ndata: l [\w-]+\n\n/);
    assert.match(text, /\n:\n/, 'a comment heartbeat');
    assert.match(text, /data: c 1001 idle\n\n$/);
    const session = [...t.sessions.values()].at(-1)!;
    assert.equal(session.state, 'suspended');
  });
});

describe('HTTP transports: slow readers', () => {
  let t: Awaited<ReturnType<typeof harness>>;
  before(async () => {
    // Not idle within the test: only the buffer bound can drop the link.
    t = await harness({ idleTimeout: 600_000, maxBufferedBytes: 64 * 1024 });
  });
  after(() => t.h.close());

  it('drops the link of an SSE reader that does not read (bounded buffer), and the session waits', async () => {
    const socket = connect(t.h.port, '127.0.0.1');
    let head = '';
    const welcomed = new Promise<string>((resolve) => {
      socket.on('data', (chunk: Buffer) => {
        head += chunk.toString();
        const match = /data: w ([\w-]+) /.exec(head);
        if (match !== null) {
          socket.pause(); // and never read again
          resolve(match[1]!);
        }
      });
    });
    socket.write(`GET /s?transport=sse&hello=h%200 HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n`);
    const session = t.sessions.get(await welcomed)!;
    const big = 'z'.repeat(16 * 1024);
    for (let i = 0; i < 4000 && session.state === 'linked'; i++) {
      session.send(big);
      if (i % 8 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    assert.equal(session.state, 'suspended', 'the link was dropped');
    await until(() => t.h.transport.linkCount === 0, 'the link forgotten');
    socket.destroy();
  });
});

describe('HTTP transports: authentication', () => {
  let t: Awaited<ReturnType<typeof harness>>;
  before(async () => {
    t = await harness({
      authenticate: (request) => {
        if (request.headers.authorization !== 'Bearer good') throw new HandshakeError(401, 'who are you');
        return undefined;
      },
    });
  });
  after(() => t.h.close());

  it('answers a refused link with the HandshakeError status', async () => {
    const response = await fetch(`${t.h.base}?transport=sse&hello=h%200`);
    assert.equal(response.status, 401);
    const ok = await fetch(`${t.h.base}?transport=long-polling&hello=h%200`, {
      headers: { authorization: 'Bearer good' },
    });
    assert.equal(ok.status, 200);
  });

  it('makes the reconnecting client give up on 401, as on a refused WebSocket handshake', async () => {
    const c = client(t.h.url, { transports: ['sse'], transportMemory: null });
    const closed = await next(c, 'close');
    assert.equal(c.state, 'closed');
    assert.ok(closed);
  });
});

describe('HTTP transports: what an EventSource and the application see', () => {
  let t: Awaited<ReturnType<typeof harness>>;
  before(async () => {
    t = await harness({ highWaterMark: 100 });
  });
  after(() => t.h.close());

  /** The events of an SSE response, read as they come. */
  function eventReader(response: Response) {
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    return {
      /** Every event so far, once at least `count` came. */
      async upTo(count: number): Promise<string[]> {
        while ((text.match(/^data: /gm) ?? []).length < count) {
          const { value, done } = await reader.read();
          if (done) break;
          text += value;
        }
        return text.split('\n\n').filter((event) => event.includes('data: '));
      },
      cancel: () => reader.cancel(),
    };
  }

  it('numbers data events with id: and resumes a stream from Last-Event-ID', async () => {
    const first = eventReader(await fetch(`${t.h.base}?transport=sse&hello=h%200`));
    const opening = await first.upTo(2);
    const [, session, epoch] = /data: w ([\w-]+) ([\w-]+) /.exec(opening[1]!)!;
    const live = t.sessions.get(session!)!;
    for (const m of ['one', 'two', 'three']) live.send(m);
    assert.deepEqual((await first.upTo(5)).slice(2), [
      'id: 1\ndata: done',
      'id: 2\ndata: dtwo',
      'id: 3\ndata: dthree',
    ]);
    // The stream breaks; an EventSource would reconnect to the same URL with Last-Event-ID.
    await first.cancel();
    await until(() => live.state === 'suspended', 'the break seen');
    const hello = encodeURIComponent(`h 0 ${session} ${epoch}`);
    const again = eventReader(
      await fetch(`${t.h.base}?transport=sse&hello=${hello}`, { headers: { 'last-event-id': '2' } }),
    );
    const resumed = await again.upTo(3);
    assert.match(resumed[1]!, / r$/, 'resumed');
    assert.equal(resumed[2], 'id: 3\ndata: dthree', 'only what came after event 2');
    await again.cancel();
  });

  it('says which transport carries a session, and fires drain once a poll takes what was queued', async () => {
    const drained: string[] = [];
    const h = await listenHttpSessions(
      { sessions: { drain: (session) => drained.push(session.id) } },
      { highWaterMark: 100 },
    );
    try {
      const response = await fetch(`${h.base}?transport=long-polling&hello=h%200`);
      const [linkLine, welcome] = lines(await response.text());
      const id = welcome!.split(' ')[1]!;
      const session = h.server.sessionsById.get(id)!;
      assert.equal(session.transport, 'long-polling');
      assert.equal(session.link, null, 'no WebSocket');
      assert.equal(session.send('x'.repeat(200)), 'queued');
      const answer = await fetch(`${h.base}?link=${linkLine!.slice(2)}&since=1`);
      assert.equal(lines(await answer.text()).length, 1);
      await fetch(`${h.base}?link=${linkLine!.slice(2)}&since=2`, { signal: AbortSignal.timeout(200) }).catch(
        () => undefined,
      );
      await until(() => drained.length === 1, 'drain');
      assert.deepEqual(drained, [id]);
    } finally {
      await h.close();
    }
  });
});

describe('HTTP transports: a poll link whose answers get lost', () => {
  let t: Awaited<ReturnType<typeof harness>>;
  before(async () => {
    t = await harness({ pollTimeout: 30 });
  });
  after(() => t.h.close());

  it('delivers every line once and in order, whatever answers are lost on the way (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ send: fc.integer({ min: 0, max: 4 }), lost: fc.boolean() }), {
          minLength: 1,
          maxLength: 10,
        }),
        async (steps) => {
          const { link, session, rest } = await openPoll(t.h);
          assert.deepEqual(rest, []);
          const live = t.sessions.get(session)!;
          const got: string[] = [];
          let since = 1; // the welcome
          let sent = 0;
          for (const step of steps) {
            for (let i = 0; i < step.send; i++) live.send(`m${sent++}`);
            const answer = lines(await (await poll(t.h, link, since)).text());
            if (step.lost) continue; // the client never saw it: it polls from the same place
            got.push(...answer);
            since += answer.length;
          }
          for (let i = 0; i < 100 && got.length < sent; i++) {
            const answer = lines(await (await poll(t.h, link, since)).text());
            got.push(...answer);
            since += answer.length;
          }
          assert.deepEqual(
            got,
            Array.from({ length: sent }, (_, i) => `dm${i}`),
          );
          live.close();
        },
      ),
      { numRuns: 25 },
    );
  });
});

describe('HTTP transports: browser origins', () => {
  let t: Awaited<ReturnType<typeof harness>>;
  before(async () => {
    t = await harness({ origins: ['https://app.example', /^https:\/\/[a-z]+\.trusted\.example$/] });
  });
  after(() => t.h.close());

  const open = (origin: string) =>
    fetch(`${t.h.base}?transport=long-polling&hello=h%200`, { headers: { origin } });

  it('refuses a link from an origin not allowed (403), as the WebSocket server refuses its upgrade', async () => {
    const sessionsBefore = t.sessions.size;
    const response = await open('https://evil.example');
    assert.equal(response.status, 403);
    assert.equal(t.sessions.size, sessionsBefore, 'no session was made');
    assert.equal((await post(t.h, 'whatever', 0, 'dx')).status, 404, 'without Origin: not refused for it');
  });

  it('takes its own origin without CORS headers, and an allowed one with them', async () => {
    const own = await open(`http://127.0.0.1:${t.h.port}`);
    assert.equal(own.status, 200);
    assert.equal(own.headers.get('access-control-allow-origin'), null);
    for (const origin of ['https://app.example', 'https://eu.trusted.example']) {
      const response = await open(origin);
      assert.equal(response.status, 200, origin);
      assert.equal(response.headers.get('access-control-allow-origin'), origin);
      assert.equal(response.headers.get('access-control-expose-headers'), 'retry-after');
      await response.arrayBuffer();
    }
  });

  it('answers a preflight from an allowed origin', async () => {
    const response = await fetch(t.h.base, { method: 'OPTIONS', headers: { origin: 'https://app.example' } });
    assert.equal(response.status, 204);
    assert.equal(response.headers.get('access-control-allow-methods'), 'GET, POST');
  });
});

describe('HTTP transports: an origin policy that throws', () => {
  it('refuses the request (403), reports the error, and the process goes on', async () => {
    const t = await harness({
      origins: () => {
        throw new Error('policy bug');
      },
    });
    const errors: unknown[] = [];
    t.h.server.server.on('error', (error) => errors.push(error));
    try {
      const response = await fetch(`${t.h.base}?transport=long-polling&hello=h%200`, {
        headers: { origin: 'https://elsewhere.example' },
      });
      assert.equal(response.status, 403);
      assert.equal((errors[0] as Error).message, 'policy bug');
      await openPoll(t.h);
    } finally {
      await t.h.close();
    }
  });
});

describe('HTTP transports: request targets no URL parser takes', () => {
  it('leaves them alone (404 from the only listener) and the process goes on', async () => {
    const t = await harness();
    try {
      const socket = connect(t.h.port, '127.0.0.1');
      const answer = await new Promise<string>((resolve) => {
        let text = '';
        socket.on('data', (chunk: Buffer) => {
          text += chunk.toString();
        });
        socket.on('close', () => resolve(text));
        socket.on('end', () => resolve(text));
        socket.write('GET //[ HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n');
      });
      assert.match(answer, /^HTTP\/1\.1 404/);
      const { session } = await openPoll(t.h);
      assert.ok(t.sessions.has(session), 'still serving');
    } finally {
      await t.h.close();
    }
  });
});
