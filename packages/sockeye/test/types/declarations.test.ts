/**
 * The public surface as published: the package root exports what applications use and no
 * more (the sans-I/O core is behind `/protocol`), and the built declarations of every
 * package carry no internals (`stripInternal` drops what is tagged `@internal`). Reads
 * the built `dist` of each package, as `npm test` builds it first.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { ROOT } from '../../../../scripts/lib/prereqs.js';

const PACKAGES = ['sockeye', 'redis', 'metrics', 'cli'];

/** Every `.d.ts` below `dir`. */
function declarationFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return declarationFiles(path);
    return entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** The declarations of every package, as [path from the root, text]. */
function declarations(): [string, string][] {
  return PACKAGES.flatMap((name) => {
    const dist = join(ROOT, 'packages', name, 'dist');
    assert.ok(existsSync(dist), `build first (npx tsc -b): packages/${name}/dist is missing`);
    return declarationFiles(dist).map((file): [string, string] => [
      relative(ROOT, file),
      readFileSync(file, 'utf8'),
    ]);
  });
}

/**
 * Internals by name: members the server, its connections, the `ws` layer and sessions call
 * on each other, the connection host interface (the server's handler table and settings
 * as its connections read them), and module-level helpers of the same kind.
 */
const INTERNAL_NAMES = [
  '_receive',
  '_flush',
  '_start',
  '_sendPrepared',
  '_onMessage',
  '_onClose',
  '_peerEnded',
  '_socket',
  '_info',
  '_ops',
  '_heartbeatAt',
  '_writeFragment',
  '_wasClean',
  '_subscribe',
  '_core',
  '_handshakeData',
  'ConnectionHost',
  'scheduleFlush',
  'connectionClosed',
  'admitMessage',
  'publishFrom',
  'topicRegistry',
  'kSocketOwner',
  'ConnectionInfo',
  'StatsCounters',
  'nextConnectionId',
  'addEventListenerTo',
];

/** What the package root exports at run time (types aside). Adding to it is an API decision. */
const ROOT_EXPORTS = [
  'BrokerError',
  'CloseCode',
  'CloseEvent',
  'DeflateUnavailableError',
  'ErrorEvent',
  'EventSourceEndpoint',
  'HandshakeError',
  'InProcessBroker',
  'InProcessHub',
  'InternalError',
  'MemorySessionStore',
  'MemoryTopicHistory',
  'MessageWriterError',
  'ProtocolError',
  'ProxyProtocolError',
  'ReconnectingWebSocket',
  'SendStatus',
  'ServerSession',
  'ServerWebSocket',
  'SESSION_PROTOCOL',
  'SessionError',
  'SessionHttpTransport',
  'SessionLostEvent',
  'SessionOpenEvent',
  'SessionServer',
  'SockeyeError',
  'TopicError',
  'WebSocket',
  'WebSocketError',
  'WebSocketServer',
  'WebSocketStream',
  'constantTimeEqual',
  'diagnosticChannels',
  'isWellFormedTopic',
];

/** The sans-I/O core, reachable from `/protocol` and not from the root. */
const CORE = [
  'Connection',
  'FrameParser',
  'buildFrame',
  'computeAccept',
  'HttpHeadParser',
  'OutputQueue',
  'maskInto',
];

describe('public surface', () => {
  it('the package root exports the application API, and the protocol core only from /protocol', async () => {
    const root = await import('@sockeye/sockeye');
    assert.deepEqual(Object.keys(root).sort(), [...ROOT_EXPORTS].sort());
    const protocol: Record<string, unknown> = await import('@sockeye/sockeye/protocol');
    for (const name of CORE) assert.equal(typeof protocol[name], 'function', `/protocol exports ${name}`);
    const rootDeclarations = readFileSync(join(ROOT, 'packages', 'sockeye', 'dist', 'index.d.ts'), 'utf8');
    for (const name of CORE) assert.doesNotMatch(rootDeclarations, new RegExp(`\\b${name}\\b`), name);
  });

  it('no declaration file of any package declares a member whose name starts with _', () => {
    const found: string[] = [];
    for (const [file, text] of declarations()) {
      for (const [index, line] of text.split('\n').entries()) {
        if (/^\s+(?:(?:readonly|static|get|set|protected|abstract)\s+)*_\w*[?!]?\s*[(:<;]/.test(line))
          found.push(`${file}:${index + 1}: ${line.trim()}`);
      }
    }
    assert.deepEqual(found, [], 'tag these @internal (stripInternal leaves them out) or make them #private');
  });

  it('no declaration file of any package names an internal', () => {
    const found: string[] = [];
    for (const [file, text] of declarations()) {
      for (const name of INTERNAL_NAMES)
        if (new RegExp(`\\b${name}\\b`).test(text)) found.push(`${file}: ${name}`);
    }
    assert.deepEqual(found, []);
  });

  it('every declaration file of every package type-checks alone: strict, lib es2023 without the DOM, skipLibCheck off', () => {
    // What `@internal` leaves out must not be named by what stays (stripInternal does not check).
    const files = declarations().map(([file]) => join(ROOT, file));
    const dir = mkdtempSync(join(tmpdir(), 'sockeye-declarations-'));
    try {
      writeFileSync(
        join(dir, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            target: 'es2023',
            lib: ['es2023'],
            module: 'nodenext',
            moduleResolution: 'nodenext',
            types: ['node'],
            typeRoots: [join(ROOT, 'node_modules', '@types')],
            strict: true,
            skipLibCheck: false,
            noEmit: true,
          },
          files,
        }),
      );
      const result = spawnSync(
        process.execPath,
        [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(dir, 'tsconfig.json')],
        { encoding: 'utf8', timeout: 120_000 },
      );
      assert.equal(result.status, 0, `tsc failed:\n${result.stdout}${result.stderr}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
