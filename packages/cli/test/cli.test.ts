/** The `sockeye` command run as a subprocess, the way people run it. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const bin = join(here, '..', 'bin', 'sockeye.js');
/** The link `npm ci` makes for the workspace's bin: what `npx @sockeye/cli` (and `npx sockeye`, in the repository) runs. */
const linked = join(here, '..', '..', '..', 'node_modules', '.bin', 'sockeye');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function sockeye(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; via?: string; stdin?: string } = {},
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      [options.via ?? bin, ...args],
      { env: options.env ?? { ...process.env, FORCE_COLOR: '0' }, timeout: 30_000 },
      (error, stdout, stderr) => {
        if (error !== null && typeof error.code !== 'number') reject(error);
        else resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr });
      },
    );
    // stdin is a pipe, never a terminal: give it the input (or nothing) and close it.
    child.stdin?.on('error', () => {}); // the child may stop reading early (the size bound)
    child.stdin?.end(options.stdin ?? '');
  });
}

/** The start of every ANSI escape sequence. */
const ESC = '\u001b[';
const SEED = '818f08f6efb1ee7e7e5790590629b713412ced654a';

describe('sockeye --help', () => {
  it('lists the commands that work, through the npm bin link', { timeout: 60_000 }, async () => {
    const run = await sockeye(['--help'], { via: linked });
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /Usage: sockeye <command>/);
    assert.match(run.stdout, /^ {2}frame +decode a WebSocket frame/m);
    assert.match(run.stdout, /^ {2}connect +open a WebSocket connection/m);
    assert.match(run.stdout, /^ {2}serve +start a WebSocket server/m);
    // The npm name, not `npx sockeye` (an unrelated package on npm).
    assert.match(run.stdout, /`npx @sockeye\/cli <command>`/);
  });

  it('prints options and examples for connect, listen, serve and bench', { timeout: 60_000 }, async () => {
    for (const name of ['connect', 'listen', 'serve', 'bench']) {
      for (const args of [
        [name, '--help'],
        ['help', name],
        [name, '-h'],
      ]) {
        const run = await sockeye(args);
        assert.equal(run.code, 0, args.join(' '));
        assert.match(run.stdout, new RegExp(`^Usage: sockeye ${name}`), args.join(' '));
        assert.match(run.stdout, new RegExp(`^Examples:\\n {2}sockeye ${name}\\b`, 'm'), args.join(' '));
      }
    }
  });

  it('prints examples for frame', { timeout: 60_000 }, async () => {
    for (const args of [
      ['frame', '--help'],
      ['help', 'frame'],
      ['frame', 'encode', '--help'],
    ]) {
      const run = await sockeye(args);
      assert.equal(run.code, 0, args.join(' '));
      assert.match(run.stdout, /sockeye frame decode 818f08f6efb1/);
      assert.match(run.stdout, /sockeye frame encode --mask 08f6efb1/);
    }
  });
});

describe('sockeye frame decode', () => {
  it('prints each header field of the masked 我是阿宝哥 frame and its unmasked text', {
    timeout: 60_000,
  }, async () => {
    const run = await sockeye(['frame', 'decode', SEED]);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stderr, '');
    const out = run.stdout;
    assert.match(out, /^frame 1: 21 bytes at offset 0 \(header 6, payload 15\)$/m);
    assert.match(out, /^ {2}FIN +1 /m);
    assert.match(out, /^ {2}RSV1 +0$/m);
    assert.match(out, /^ {2}RSV2 +0$/m);
    assert.match(out, /^ {2}RSV3 +0$/m);
    assert.match(out, /^ {2}opcode +0x1 +text$/m);
    assert.match(out, /^ {2}MASK +1 /m);
    assert.match(out, /^ {2}payload length +15$/m);
    assert.match(out, /^ {2}masking key +08 f6 ef b1$/m);
    assert.match(out, /^ {2}masked payload +ee 7e 7e 57 90 59 06 29 b7 13 41 2c ed 65 4a$/m);
    assert.match(out, /^ {2}payload \(hex\) +e6 88 91 e6 98 af e9 98 bf e5 ae 9d e5 93 a5 /m);
    assert.match(out, /^ {2}payload \(text\) +"我是阿宝哥"$/m);
    assert.ok(!out.includes(ESC), 'no colour when stdout is not a terminal');
  });

  it('accepts hex pasted with spaces across arguments', { timeout: 60_000 }, async () => {
    const run = await sockeye(['frame', 'decode', '81 85 37 fa', '21 3d 7f 9f 4d 51 58']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /payload \(text\) +"Hello"/);
  });

  it('reads the hex from stdin, so encode can be piped into decode', { timeout: 60_000 }, async () => {
    const encoded = await sockeye(['frame', 'encode', '--mask', '37fa213d', 'Hello']);
    const frameHex = encoded.stdout.split('\n')[0]!;
    assert.equal(frameHex, '818537fa213d7f9f4d5158', 'RFC 6455 section 5.7');
    for (const args of [
      ['frame', 'decode', '-'],
      ['frame', 'decode'],
    ]) {
      const run = await sockeye(args, { stdin: `${frameHex}\n` });
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /payload \(text\) +"Hello"/);
    }
  });

  it('refuses more than 2 MiB on stdin without buffering it all', { timeout: 60_000 }, async () => {
    const run = await sockeye(['frame', 'decode', '-'], { stdin: '00'.repeat(1024 * 1024 + 1) });
    assert.equal(run.code, 2);
    assert.equal(run.stderr, `sockeye: stdin holds more than ${2 * 1024 * 1024} bytes\n`);
  });

  it('prints the code and reason of a close frame', { timeout: 60_000 }, async () => {
    const run = await sockeye(['frame', 'decode', '880503e8627965']);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^ {2}close code +1000 +Normal$/m);
    assert.match(run.stdout, /^ {2}close reason +"bye"$/m);
  });

  it('uses colour when forced and leaves it out under NO_COLOR', { timeout: 60_000 }, async () => {
    const forced = await sockeye(['frame', 'decode', SEED], { env: { ...process.env, FORCE_COLOR: '1' } });
    assert.ok(forced.stdout.includes(`${ESC}36mopcode`), forced.stdout);
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
    delete env.FORCE_COLOR;
    const plain = await sockeye(['frame', 'decode', SEED], { env });
    assert.ok(!plain.stdout.includes(ESC));
  });

  const bad: Array<[string, string[], RegExp]> = [
    ['not hex', ['frame', 'decode', '81zz'], /^sockeye: frame decode: not a hex digit: "z"/],
    ['an odd number of digits', ['frame', 'decode', '818'], /odd number of hex digits/],
    ['a truncated frame', ['frame', 'decode', '810548656c'], /declares 5 payload bytes, 3 given/],
    ['no bytes (empty stdin)', ['frame', 'decode'], /no hex digits given/],
    ['an unknown option', ['frame', 'encode', '--bogus', 'x'], /Unknown option '--bogus'/],
    ['a reserved opcode', ['frame', 'encode', '--opcode', '3', 'x'], /opcode 3 is reserved/],
    ['a short masking key', ['frame', 'encode', '--mask', '08f6ef', 'x'], /--mask takes 4 bytes/],
    ['a long ping', ['frame', 'encode', '--opcode', 'ping', 'x'.repeat(126)], /at most 125 bytes/],
    ['an unknown command', ['frobnicate'], /unknown command "frobnicate"/],
    ['an unknown subcommand', ['frame', 'explain'], /unknown subcommand "explain"/],
  ];
  for (const [name, args, message] of bad) {
    it(`answers ${name} with one line and exit code 2`, { timeout: 60_000 }, async () => {
      const run = await sockeye(args);
      assert.equal(run.code, 2);
      assert.equal(run.stdout, '');
      assert.equal(run.stderr.split('\n').filter(Boolean).length, 1, run.stderr);
      assert.match(run.stderr, message);
    });
  }
});

describe('sockeye frame encode', () => {
  it('masks 我是阿宝哥 with the seed key into the seed frame', { timeout: 60_000 }, async () => {
    const run = await sockeye(['frame', 'encode', '--mask', '08f6efb1', '我是阿宝哥']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal(run.stdout.split('\n')[0], SEED);
    assert.match(run.stdout, /masking key +08 f6 ef b1/);
  });

  const cases: Array<[string, string[], RegExp[]]> = [
    ['an unmasked text frame', ['Hello'], [/opcode +0x1 +text/, /"Hello"/]],
    [
      'a binary frame from hex',
      ['--opcode', 'binary', '--hex', 'de ad be ef'],
      [/opcode +0x2 +binary/, /de ad be ef/],
    ],
    [
      'a close frame',
      ['--opcode', 'close', '--code', '1001', 'going'],
      [/close code +1001 +GoingAway/, /"going"/],
    ],
    ['a first fragment, compressed', ['--no-fin', '--rsv1', 'Hel'], [/FIN +0 /, /RSV1 +1 /]],
    [
      'a ping by number',
      ['--opcode', '0x9', '--mask', '37fa213d', 'Hello'],
      [/opcode +0x9 +ping/, /MASK +1 /],
    ],
  ];
  for (const [name, args, expected] of cases) {
    it(`round-trips ${name} through frame decode`, { timeout: 60_000 }, async () => {
      const encoded = await sockeye(['frame', 'encode', ...args]);
      assert.equal(encoded.code, 0, encoded.stderr);
      const frameHex = encoded.stdout.split('\n')[0]!;
      assert.match(frameHex, /^[0-9a-f]+$/);
      const decoded = await sockeye(['frame', 'decode', frameHex]);
      assert.equal(decoded.code, 0, decoded.stderr);
      // encode prints the frame hex, a blank line, then exactly what decode prints.
      assert.equal(encoded.stdout, `${frameHex}\n\n${decoded.stdout}`);
      for (const pattern of expected) assert.match(decoded.stdout, pattern);
    });
  }
});
