/**
 * Every example in every `--help` runs as written, in a shell, with `sockeye` on the PATH
 * and exit code 0. Only the addresses change: the examples' ports (8080, 9000, 8443)
 * become the test's echo servers on port 0, and a `serve` or `listen` example listens on
 * port 0 and is stopped with Ctrl-C (SIGINT) once it listens. Examples run in order in one
 * temporary directory (the `openssl` example makes the files a later one uses).
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { WebSocketServer } from '@sockeye/sockeye/server';
import {
  type CertificateFiles,
  opensslMissing,
  selfSignedCertificateFiles,
} from '../../../scripts/lib/tls.js';
import { commands } from '../src/commands/index.js';
import { BIN } from './support/run.js';

const T = { timeout: 120_000 };

/** The lines of a help text's `Examples:` section. */
function examplesOf(help: string): string[] {
  const at = help.indexOf('\nExamples:\n');
  assert.notEqual(at, -1, 'the help has examples');
  const lines: string[] = [];
  for (const line of help.slice(at + '\nExamples:\n'.length).split('\n')) {
    if (!line.startsWith('  ')) break;
    lines.push(line.trim());
  }
  return lines;
}

function echoServer(https?: HttpsServer): WebSocketServer<undefined> {
  return new WebSocketServer<undefined>({
    ...(https === undefined ? { port: 0, host: '127.0.0.1' } : { server: https }),
    origins: '*',
    selectProtocol: (offered) => offered[0],
    decodeText: false,
    handlers: { message: (ws, data, isBinary) => ws.send(data, isBinary) },
  });
}

interface Outcome {
  code: number | null;
  output: string;
}

describe('the examples of every --help', { skip: opensslMissing() }, () => {
  let dir = '';
  let env: NodeJS.ProcessEnv = {};
  let echo: WebSocketServer<undefined>;
  let tlsEcho: WebSocketServer<undefined>;
  let https: HttpsServer;
  let tls: CertificateFiles;
  let port = 0;
  let tlsPort = 0;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sockeye-examples-'));
    const bin = join(dir, 'bin');
    mkdirSync(bin);
    writeFileSync(join(bin, 'sockeye'), `#!/bin/sh\nexec '${process.execPath}' '${BIN}' "$@"\n`);
    chmodSync(join(bin, 'sockeye'), 0o755);
    env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}`, FORCE_COLOR: '0' };
    echo = echoServer();
    port = ((await echo.listen()) as AddressInfo).port;
    tls = selfSignedCertificateFiles();
    https = createHttpsServer({ cert: tls.cert, key: tls.key });
    tlsEcho = echoServer(https);
    await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve));
    tlsPort = (https.address() as AddressInfo).port;
  });
  after(async () => {
    await echo?.close({ timeout: 1000 });
    await tlsEcho?.close({ timeout: 1000 });
    https?.close();
    if (tls !== undefined) rmSync(tls.dir, { recursive: true, force: true });
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  /** The example with the test's addresses; whether it runs until stopped. */
  function adapt(example: string): { line: string; listens: boolean } {
    let line = example
      .replace(/127\.0\.0\.1:(8080|9000)/g, `127.0.0.1:${port}`)
      .replace(/localhost:8443/g, `localhost:${tlsPort}`);
    const listens = /^sockeye (serve|listen)\b/.test(line);
    if (listens) {
      line = line.replace(/--port \d+/, '--port 0').replace(/^sockeye listen \d+/, 'sockeye listen 0');
      if (line.startsWith('sockeye serve') && !line.includes('--port')) line += ' --port 0';
    }
    return { line, listens };
  }

  function runToEnd(line: string): Promise<Outcome> {
    return new Promise((resolve) => {
      const child = execFile(
        'bash',
        ['-c', line],
        { cwd: dir, env, timeout: 60_000 },
        (error, stdout, stderr) =>
          resolve({
            code: error === null ? 0 : typeof error.code === 'number' ? error.code : null,
            output: stdout + stderr,
          }),
      );
      child.stdin?.end();
    });
  }

  function runUntilListening(line: string): Promise<Outcome> {
    return new Promise((resolve) => {
      const child = spawn('bash', ['-c', `exec ${line}`], {
        cwd: dir,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let output = '';
      let stopped = false;
      const guard = setTimeout(() => child.kill('SIGKILL'), 60_000);
      const onData = (chunk: Buffer) => {
        output += chunk.toString();
        if (!stopped && /listening on/.test(output)) {
          stopped = true;
          child.kill('SIGINT');
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.once('exit', (code) => {
        clearTimeout(guard);
        resolve({ code, output });
      });
    });
  }

  for (const command of commands) {
    it(`sockeye ${command.name} --help`, T, async () => {
      const examples = examplesOf(command.help);
      assert.ok(examples.length > 0);
      for (const example of examples) {
        const { line, listens } = adapt(example);
        const outcome = listens ? await runUntilListening(line) : await runToEnd(line);
        assert.equal(outcome.code, 0, `${example}\n(ran: ${line})\n${outcome.output}`);
      }
    });
  }
});
