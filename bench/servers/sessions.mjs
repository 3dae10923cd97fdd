// The session benchmark's server process (bench/sessions.ts forks it, with `advanced` IPC
// serialization): sockeye's compiled package (packages/sockeye/dist, through the
// workspace link), one SessionServer on loopback that echoes every message, on sessions
// and on plain connections. `--name A|B`. Its suspended sessions go to a
// MemorySessionStore of its own, or, with `--remote-store`, to the store of its parent
// process (`{storeOp}` out, `{storeReply}` back: as two servers share a Redis). With
// `--with-a`, it forks server A itself (`--remote-store`: A's store is this one) and
// passes it the commands marked `toA` (A's answers come back unmarked).
// Commands come as IPC messages, answers go back the same way:
//   {cmd: 'memory'}                          -> {heldBytes, sessions}: heap + arrayBuffers after two full GCs
//   {cmd: 'cpu'}                             -> {cpuMicros}: this process's CPU time so far
//   {cmd: 'drain', drainPeriod, retryWindow} -> {started}, then {drained: ms}: the server closes
//                                               (spread over drainPeriod, or at once when 0; 1012 either way)
//   {cmd: 'mark'}                            -> {marked}: the storm starts now (resumes are timed from here)
//   {cmd: 'resumes'}                         -> {times, opens}: ms from the mark of each resume here
//   {cmd: 'stop'}                            -> exits
//   {storeOp, id, args}                      -> {storeReply: id, value} (for the remote store of another process)
// Run with --expose-gc.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const built = fileURLToPath(new URL('../../packages/sockeye/dist/index.js', import.meta.url));
if (!existsSync(built)) {
  console.error(`sockeye is not built (${built} is missing): run \`npx tsc -b\` first`);
  process.exit(1);
}
const { MemorySessionStore, SessionServer } = await import('@sockeye/sockeye');
const { values } = parseArgs({
  options: {
    name: { type: 'string', default: 'A' },
    'remote-store': { type: 'boolean', default: false },
    'with-a': { type: 'boolean', default: false },
  },
});

const local = new MemorySessionStore({ maxSessions: 1_000_000 });

/** A SessionStore whose operations run in another process, through the parent. */
class RemoteStore {
  nextId = 0;
  pending = new Map();
  call(op, ...args) {
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      process.send({ storeOp: op, id, args });
    });
  }
  answer(message) {
    const resolve = this.pending.get(message.storeReply);
    this.pending.delete(message.storeReply);
    resolve?.(message.value);
  }
  put(session, now) {
    return this.call('put', session, now);
  }
  take(id, now) {
    return this.call('take', id, now);
  }
  delete(id) {
    return this.call('delete', id);
  }
  expire(now) {
    return this.call('expire', now);
  }
}
const remote = values['remote-store'] ? new RemoteStore() : null;

let mark = 0;
const resumeTimes = [];
let opens = 0;
const echo = (target, data, isBinary) => target.send(data, isBinary);
const server = new SessionServer({
  port: 0,
  host: '127.0.0.1',
  origins: '*',
  pingInterval: 0,
  decodeText: false,
  maxSuspendedSessions: 1_000_000,
  store: remote ?? local,
  handlers: { message: echo },
  sessions: {
    message: echo,
    open: () => {
      opens++;
    },
    resume: () => {
      resumeTimes.push(performance.now() - mark);
    },
  },
});
const address = await server.listen();

let a = null;
if (values['with-a']) {
  const { fork } = await import('node:child_process');
  a = fork(fileURLToPath(import.meta.url), ['--name', 'A', '--remote-store'], {
    execArgv: ['--expose-gc'],
    serialization: 'advanced',
  });
  const portA = await new Promise((resolve) => {
    a.on('message', async (message) => {
      if (message.port !== undefined) resolve(message.port);
      else if (message.storeOp !== undefined) {
        const value = await local[message.storeOp](...message.args);
        a.send({ storeReply: message.id, value });
      } else process.send(message);
    });
  });
  process.send({ port: address.port, portA });
} else process.send({ port: address.port });

process.on('message', async (message) => {
  if (message.toA === true) {
    a?.send({ ...message, toA: false });
    return;
  }
  if (message.storeReply !== undefined) {
    remote?.answer(message);
    return;
  }
  if (message.storeOp !== undefined) {
    const value = await local[message.storeOp](...message.args);
    process.send({ storeReply: message.id, value });
    return;
  }
  switch (message.cmd) {
    case 'memory': {
      globalThis.gc();
      globalThis.gc();
      const usage = process.memoryUsage();
      process.send({ heldBytes: usage.heapUsed + usage.arrayBuffers, sessions: server.sessionsById.size });
      break;
    }
    case 'cpu': {
      const usage = process.cpuUsage();
      process.send({ cpuMicros: usage.user + usage.system });
      break;
    }
    case 'mark':
      mark = performance.now();
      process.send({ marked: true });
      break;
    case 'drain': {
      const started = performance.now();
      process.send({ started: true });
      const options =
        message.drainPeriod > 0
          ? { drainPeriod: message.drainPeriod, retryWindow: message.retryWindow, timeout: 10_000 }
          : { timeout: 10_000 };
      await server.close(options);
      process.send({ drained: performance.now() - started });
      break;
    }
    case 'resumes':
      process.send({ times: resumeTimes, opens });
      break;
    case 'stop':
      if (a !== null) {
        const exited = new Promise((resolve) => a.once('exit', resolve));
        a.send({ cmd: 'stop' });
        await exited;
      }
      await server.close({ timeout: 100 });
      process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
