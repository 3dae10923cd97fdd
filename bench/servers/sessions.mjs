// The session benchmark's server process (bench/sessions.ts forks it): sockeye's compiled
// package (packages/sockeye/dist, through the workspace link), two SessionServers on
// loopback, A and B, sharing one MemorySessionStore as two processes would share a Redis
// one. Both echo every message, on sessions and on plain connections. Commands come as IPC
// messages, answers go back the same way:
//   {cmd: 'memory'}                        -> {heldBytes, sessions}: heap + arrayBuffers after two full GCs
//   {cmd: 'drain', drainPeriod, retryWindow} -> {started}, then {drained}: A closes (spread over
//                                             drainPeriod with 1012, or at once with 1001 when 0)
//   {cmd: 'cpu'}                           -> {cpuMicros}: this process's CPU time so far
//   {cmd: 'resumes'}                       -> {times, opens}: ms from the drain's start of each resume on B
//   {cmd: 'stop'}                          -> exits
// Run with --expose-gc.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const built = fileURLToPath(new URL('../../packages/sockeye/dist/index.js', import.meta.url));
if (!existsSync(built)) {
  console.error(`sockeye is not built (${built} is missing): run \`npx tsc -b\` first`);
  process.exit(1);
}
const { MemorySessionStore, SessionServer } = await import('sockeye');

const store = new MemorySessionStore({ maxSessions: 1_000_000 });
let drainStarted = 0;
const resumeTimes = [];
let opensOnB = 0;

function server(name) {
  const echo = (target, data, isBinary) => target.send(data, isBinary);
  return new SessionServer({
    port: 0,
    host: '127.0.0.1',
    origins: '*',
    pingInterval: 0,
    decodeText: false,
    maxSuspendedSessions: 1_000_000,
    store,
    handlers: { message: echo },
    sessions: {
      message: echo,
      open: () => {
        if (name === 'B') opensOnB++;
      },
      resume: () => {
        if (name === 'B') resumeTimes.push(performance.now() - drainStarted);
      },
    },
  });
}

const a = server('A');
const b = server('B');
const [addressA, addressB] = await Promise.all([a.listen(), b.listen()]);
process.send({ portA: addressA.port, portB: addressB.port });

process.on('message', async (message) => {
  switch (message.cmd) {
    case 'memory': {
      globalThis.gc();
      globalThis.gc();
      const usage = process.memoryUsage();
      process.send({
        heldBytes: usage.heapUsed + usage.arrayBuffers,
        sessions: a.sessionsById.size + b.sessionsById.size,
      });
      break;
    }
    case 'drain': {
      drainStarted = performance.now();
      process.send({ started: true });
      const options =
        message.drainPeriod > 0
          ? { drainPeriod: message.drainPeriod, retryWindow: message.retryWindow, timeout: 10_000 }
          : { timeout: 10_000 };
      await a.close(options);
      process.send({ drained: performance.now() - drainStarted });
      break;
    }
    case 'cpu': {
      const usage = process.cpuUsage();
      process.send({ cpuMicros: usage.user + usage.system });
      break;
    }
    case 'resumes':
      process.send({ times: resumeTimes, opens: opensOnB });
      break;
    case 'stop':
      await Promise.all([a.close({ timeout: 100 }), b.close({ timeout: 100 })]);
      process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0));
