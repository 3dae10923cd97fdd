/**
 * Self-signed certificates for the TLS tests (server modes, client options, the CLI's
 * `serve --tls-*` and `connect` over wss), made with Debian's openssl (provisioned by
 * scripts/provision.mjs). A test that needs one skips with `skip: opensslMissing()`, which
 * under CI=true throws instead (see `missing()` in ./prereqs.ts).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { missing } from './prereqs.js';

/** Debian's openssl. */
export const OPENSSL = '/usr/bin/openssl';

/** Why the TLS tests cannot run (openssl is missing), or false; throws under CI=true. */
export function opensslMissing(): string | false {
  return missing(OPENSSL, 'openssl');
}

/** A self-signed certificate and its private key, as PEM, and the files they are in. */
export interface CertificateFiles {
  /** The temporary directory holding both files: remove it when done. */
  dir: string;
  certFile: string;
  keyFile: string;
  cert: Buffer;
  key: Buffer;
}

/**
 * A self-signed RSA-2048 certificate for `localhost` and `127.0.0.1` (CN=localhost,
 * subjectAltName DNS:localhost and IP:127.0.0.1), valid for one day, written to a new
 * temporary directory that the caller removes (`rmSync(dir, { recursive: true, force: true })`).
 * It is its own CA: pass `cert` as `ca` to trust it.
 */
export function selfSignedCertificateFiles(): CertificateFiles {
  const dir = mkdtempSync(join(tmpdir(), 'sockeye-tls-'));
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  try {
    execFileSync(
      OPENSSL,
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
      ].concat(['-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1']),
      { stdio: 'ignore' },
    );
    return { dir, certFile, keyFile, cert: readFileSync(certFile), key: readFileSync(keyFile) };
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
}

/** {@link selfSignedCertificateFiles} in memory only: the temporary files are removed at once. */
export function selfSignedCertificate(): { cert: Buffer; key: Buffer } {
  const { dir, cert, key } = selfSignedCertificateFiles();
  rmSync(dir, { recursive: true, force: true });
  return { cert, key };
}
