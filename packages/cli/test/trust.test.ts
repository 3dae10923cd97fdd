/**
 * The small things that cost trust: `--version`, "did you mean" for a mistyped command or
 * option, exit code 2 for bad arguments in every command, and no EPIPE stack when the
 * reader of a pipe goes away (`frame encode ... | head -1`).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { commands } from '../src/commands/index.js';
import { BIN, sockeye } from './support/run.js';

const T = { timeout: 60_000 };

describe('sockeye: version, suggestions, exit codes, broken pipes', () => {
  it('--version, -V and version print the package version', T, async () => {
    const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    for (const flag of ['--version', '-V', 'version']) {
      const run = await sockeye([flag]);
      assert.equal(run.code, 0, flag);
      assert.equal(run.stdout, `sockeye ${version}\n`);
    }
  });

  it('suggests the command meant by a typo', T, async () => {
    for (const [typo, meant] of [
      ['conect', 'connect'],
      ['sevre', 'serve'],
      ['bnech', 'bench'],
      ['lsiten', 'listen'],
      ['fram', 'frame'],
    ] as const) {
      const run = await sockeye([typo]);
      assert.equal(run.code, 2, typo);
      assert.equal(
        run.stderr,
        `sockeye: unknown command "${typo}" (did you mean ${meant}? try sockeye --help)\n`,
      );
    }
    const sub = await sockeye(['frame', 'decod', '00']);
    assert.equal(sub.code, 2);
    assert.equal(
      sub.stderr,
      'sockeye: frame: unknown subcommand "decod": did you mean decode? use decode or encode\n',
    );
    const far = await sockeye(['xyzzy']);
    assert.equal(far.stderr, 'sockeye: unknown command "xyzzy" (try sockeye --help)\n');
  });

  it('suggests the option meant by a typo', T, async () => {
    const run = await sockeye(['connect', 'ws://127.0.0.1:1', '--hedaer', 'a: b']);
    assert.equal(run.code, 2);
    assert.equal(run.stderr, "sockeye: connect: unknown option '--hedaer' (did you mean --header?)\n");
    const bench = await sockeye(['bench', 'ws://127.0.0.1:1', '--conections', '2']);
    assert.match(bench.stderr, /did you mean --connections\?/);
  });

  it('every command answers an unknown option with one line and exit code 2', T, async () => {
    for (const command of commands) {
      const run = await sockeye([command.name, '--no-such-option']);
      assert.equal(run.code, 2, command.name);
      assert.equal(run.stderr.split('\n').filter(Boolean).length, 1, run.stderr);
      assert.match(run.stdout + run.stderr, /^sockeye: .*no-such-option/m, command.name);
      assert.match(command.help, /2 for\s+bad arguments/, `${command.name} --help documents exit code 2`);
    }
    const none = await sockeye([]);
    assert.equal(none.code, 2, 'no command at all is bad arguments');
  });

  it("wscat's -c/-l and websocat's bare URL/-s start connect and listen", T, async () => {
    for (const args of [
      ['-c', 'ws://127.0.0.1:1/'],
      ['ws://127.0.0.1:1/'],
      ['--connect', 'ws://127.0.0.1:1/'],
    ]) {
      const run = await sockeye(args);
      assert.equal(run.code, 1, args.join(' '));
      assert.match(
        run.stderr,
        /^sockeye: cannot connect to ws:\/\/127\.0\.0\.1:1\/: .*ECONNREFUSED/,
        args.join(' '),
      );
    }
    for (const flag of ['-l', '-s']) {
      const run = await sockeye([flag, 'not-a-port']);
      assert.equal(run.code, 2);
      assert.match(run.stderr, /^sockeye: listen: the port must be a whole number/, flag);
    }
  });

  it('frame encode | head -1 | frame decode - prints no EPIPE stack', T, async () => {
    // 100,000 bytes: the breakdown is far bigger than a pipe's buffer, so `head` closes
    // the pipe while encode is still writing.
    const payload = 'a'.repeat(100_000);
    const script = `'${process.execPath}' '${BIN}' frame encode --mask 37fa213d "$1" | head -1 | '${process.execPath}' '${BIN}' frame decode - | head -1; echo "status=\${PIPESTATUS[*]}"`;
    const { stdout, stderr } = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) => {
      execFile(
        'bash',
        ['-c', script, 'pipe', payload],
        { env: { ...process.env, FORCE_COLOR: '0' }, timeout: 50_000, maxBuffer: 1 << 20 },
        (error, out, err) => (error === null ? resolve({ stdout: out, stderr: err }) : reject(error)),
      );
    });
    assert.equal(stderr, '', 'nothing on stderr: no EPIPE stack');
    assert.match(stdout, /^frame 1: 100014 bytes at offset 0/m);
    assert.match(stdout, /^status=0 0 0 0$/m);
  });
});
