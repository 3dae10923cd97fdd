/**
 * One error model: every error class of `packages/*\/src` extends `SockeyeError` and has
 * a stable `code`; docs/errors.md lists exactly the codes the source defines (both are
 * parsed here); the protocol and session close codes come from one table each.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  CloseCode,
  type CloseInfo,
  Connection,
  type ConnectionHandler,
  HandshakeError,
  InternalError,
  MessageWriterError,
  PROTOCOL_RULES,
  ProtocolError,
  SockeyeError,
} from '../src/protocol/index.js';
import { BrokerError, TopicError } from '../src/pubsub/index.js';
import { ProxyProtocolError } from '../src/server/index.js';
import { SESSION_RULES, SessionError } from '../src/session/index.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

/** Every TypeScript source file of every package. */
function sources(): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts')) files.set(relative(root, path), readFileSync(path, 'utf8'));
    }
  };
  for (const pkg of readdirSync(join(root, 'packages'))) {
    const src = join(root, 'packages', pkg, 'src');
    try {
      walk(src);
    } catch {
      // a package without src
    }
  }
  return files;
}

/** The string literals of `export type Name = 'a' | 'b'`, or the keys of `keyof typeof TABLE`. */
function literalsOf(name: string, text: string): string[] {
  const alias = new RegExp(`export type ${name} =([^;]+);`).exec(text);
  assert.ok(alias, `type ${name} not found`);
  const table = /keyof typeof (\w+)/.exec(alias[1]!);
  if (table !== null) {
    const body = new RegExp(`export const ${table[1]} = \\{([\\s\\S]*?)\\n\\}`).exec(text);
    assert.ok(body, `table ${table[1]} not found`);
    return [...body[1]!.matchAll(/^\s+'([a-z0-9-]+)':/gm)].map((match) => match[1]!);
  }
  return [...alias[1]!.matchAll(/'([^']+)'/g)].map((match) => match[1]!);
}

/**
 * Error classes that carry a `code` but extend `Error` itself: the session wire module,
 * which runs in browsers and imports nothing outside its folder.
 */
const STANDALONE = ['SessionError'];

/** `class -> codes`, read from the source: every class that extends SockeyeError (or is STANDALONE) and what its `code` can be. */
function sourceCodes(files: Map<string, string>): Map<string, string[]> {
  const all = [...files.values()].join('\n');
  const codes = new Map<string, string[]>();
  for (const text of files.values()) {
    for (const match of text.matchAll(/export (?:abstract )?class (\w+) extends (\w+) \{([\s\S]*?)\n\}/g)) {
      const [, name, base, body] = match as unknown as [string, string, string, string];
      if (base !== 'SockeyeError' && !STANDALONE.includes(name)) continue;
      const literal = /readonly code = '([^']+)'/.exec(body);
      const typed = /readonly code: (\w+)/.exec(body);
      if (literal !== null) codes.set(name, [literal[1]!]);
      else if (typed !== null) codes.set(name, literalsOf(typed[1]!, all));
      else assert.fail(`${name} extends SockeyeError without a readable code`);
    }
  }
  return codes;
}

/** `class -> codes` and the close code column, read from docs/errors.md's tables. */
function documentedCodes(): { codes: Map<string, string[]>; closeCodes: Map<string, string> } {
  const page = readFileSync(join(root, 'docs', 'errors.md'), 'utf8');
  const codes = new Map<string, string[]>();
  const closeCodes = new Map<string, string>();
  for (const match of page.matchAll(/^\| `([^`]+)` \| `(\w+)` \| [^|]+ \| ([^|]+) \|$/gm)) {
    const [, code, name, close] = match as unknown as [string, string, string, string];
    codes.set(name, [...(codes.get(name) ?? []), code]);
    closeCodes.set(`${name} ${code}`, close.trim());
  }
  return { codes, closeCodes };
}

const sorted = (map: Map<string, string[]>) =>
  Object.fromEntries([...map].sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => [k, [...v].sort()]));

describe('one error model', () => {
  const files = sources();

  it('docs/errors.md lists exactly the codes the source defines, class by class', () => {
    const fromSource = sourceCodes(files);
    const fromDocs = documentedCodes().codes;
    assert.ok(fromSource.size >= 15, `found ${fromSource.size} error classes`);
    assert.deepEqual(sorted(fromDocs), sorted(fromSource));
  });

  it('the page gives each protocol rule and session rule the close code of its table', () => {
    const { closeCodes } = documentedCodes();
    for (const [rule, code] of Object.entries(PROTOCOL_RULES)) {
      assert.equal(closeCodes.get(`ProtocolError ${rule}`), String(code), rule);
    }
    for (const [rule, code] of Object.entries(SESSION_RULES)) {
      assert.equal(closeCodes.get(`SessionError ${rule}`), String(code), rule);
    }
  });

  it('every error thrown in the source is a SockeyeError, or a built-in kept on purpose', () => {
    const typed = new Set(sourceCodes(files).keys());
    // API misuse (TypeError, RangeError), header values that do not parse (SyntaxError),
    // and the WHATWG client's DOMExceptions; see docs/errors.md.
    const builtIns = new Set(['TypeError', 'RangeError', 'SyntaxError', 'DOMException']);
    const untyped: string[] = [];
    for (const [path, text] of files) {
      // The ws shell raises the errors ws raises, for code written against ws.
      if (path.startsWith('packages/sockeye/src/ws/')) continue;
      // The CLI's own socket shell, which the library's client replaces.
      if (path === 'packages/cli/src/net/client.ts') continue;
      for (const match of text.matchAll(/throw new (\w+)/g)) {
        const name = match[1]!;
        if (!typed.has(name) && !builtIns.has(name)) untyped.push(`${path}: ${name}`);
      }
    }
    assert.deepEqual(untyped, []);
  });

  it('each error class is a SockeyeError whose code is its rule or kind', () => {
    const protocol = new ProtocolError('too-many-fragments', 'x');
    assert.ok(protocol instanceof SockeyeError);
    assert.equal(protocol.code, 'too-many-fragments');
    assert.equal(protocol.closeCode, CloseCode.MessageTooBig);
    const topic = new TopicError('empty-topic', 'x');
    assert.equal(topic.code, topic.rule);
    const broker = new BrokerError('decode', 'x');
    assert.equal(broker.code, broker.kind);
    const session = new SessionError('queue-full', 'x');
    assert.equal(session.code, session.rule);
    assert.equal(session.closeCode, 1008);
    for (const error of [
      protocol,
      topic,
      broker,
      session,
      new HandshakeError(400, 'x'),
      new InternalError(new Error('x')),
      new MessageWriterError('message-ended', 'x'),
      new ProxyProtocolError('malformed-v1', 'x'),
    ]) {
      assert.ok(error instanceof SockeyeError || STANDALONE.includes(error.name), error.name);
      assert.equal(typeof error.code, 'string');
    }
  });

  it('a connection fails with the close code the table gives the rule that fired', () => {
    let closed: CloseInfo | undefined;
    const handler: ConnectionHandler = {
      onMessage() {},
      onPing() {},
      onPong() {},
      onClose(info) {
        closed = info;
      },
      onOutput() {},
    };
    const connection = new Connection(handler, { role: 'server', maxPayload: 4 });
    // A masked binary frame of 5 bytes: over maxPayload.
    connection.receive(Buffer.from([0x82, 0x85, 0, 0, 0, 0, 1, 2, 3, 4, 5]));
    assert.ok(closed?.error instanceof ProtocolError);
    assert.equal(closed.error.rule, 'message-too-big');
    assert.equal(closed.code, PROTOCOL_RULES['message-too-big']);
  });
});
