/** Run the `sockeye` command as a subprocess, the way people run it. */
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** bin/sockeye.js */
export const BIN = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'sockeye.js');

/** What a run printed and returned. */
export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run `sockeye ...args` with `stdin` piped in (closed at once when absent). */
export function sockeye(
  args: string[],
  options: { env?: NodeJS.ProcessEnv; stdin?: string; timeout?: number } = {},
): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      [BIN, ...args],
      { env: options.env ?? { ...process.env, FORCE_COLOR: '0' }, timeout: options.timeout ?? 30_000 },
      (error, stdout, stderr) => {
        if (error !== null && typeof error.code !== 'number') reject(error);
        else resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr });
      },
    );
    child.stdin?.on('error', () => {});
    child.stdin?.end(options.stdin ?? '');
  });
}

/** A self-signed certificate for 127.0.0.1 made with openssl, in a temp dir (remove it after). */
export function selfSignedCertificate(): {
  dir: string;
  certFile: string;
  keyFile: string;
  cert: Buffer;
  key: Buffer;
} {
  const dir = mkdtempSync(join(tmpdir(), 'sockeye-cli-tls-'));
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      keyFile,
      '-out',
      certFile,
      '-days',
      '1',
    ].concat(['-subj', '/CN=localhost', '-addext', 'subjectAltName=IP:127.0.0.1']),
    { stdio: 'ignore' },
  );
  return { dir, certFile, keyFile, cert: readFileSync(certFile), key: readFileSync(keyFile) };
}
