// A patch for a bug in kosoku 0.1.0 that provisioning applies to the installed case file
// kosoku/cases/case12_x_x.py (Autobahn sections 12 and 13, permessage-deflate).
//
// The bug: when kosoku's *inbound* direction was negotiated without context takeover
// (`server_no_context_takeover` when kosoku is the fuzzing client, `client_no_context_takeover`
// when it is the fuzzing server) and the peer sends a data message uncompressed (RSV1 clear,
// which RFC 7692 section 6 allows: `ws` does it for every message under its 1 KiB
// `threshold`), kosoku's Rust core hands the case's onMessage a `str` with one code point
// per received byte (the Python 2 `str` convention) instead of `bytes`, for text and binary
// messages alike. The case then calls hashlib.sha1().update(str) and the case ends with
// behavior=ERROR "Strings must be encoded before hashing". Affected: 13.2.x, 13.5.x, 13.6.x,
// 13.7.x (the offers that request no context takeover) against any peer that sends some
// messages uncompressed; 12.x and 13.1/13.3/13.4 never negotiate it and are unaffected.
//
// The fix turns that `str` back into the exact bytes received (`latin-1` maps code points
// 0-255 one to one onto bytes) before the case's own checks, which stay as they are: message
// type, length and SHA-1 against what was sent. It cannot make a wrong echo pass: a
// corrupted payload still fails its hash, and a code point above 255 (a `str` that is not
// this byte mapping) raises in encode(), which kosoku reports as ERROR.
// conformance/kosoku-patch.test.ts proves both: the affected cases pass against a correct
// `ws` server and still fail against servers that corrupt, truncate or retype the echo.
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The kosoku version the patch is for. */
export const PATCHED_KOSOKU_VERSION = '0.1.0';

/** Marks a patched file (and makes applying the patch idempotent). */
export const PATCH_MARKER = 'sockeye provisioning patch: kosoku 0.1.0 str payloads';

const ANCHOR = 'def onMessage(self, msg, binary):\n   m = hashlib.sha1()\n';
const REPLACEMENT = [
  'def onMessage(self, msg, binary):',
  `   # ${PATCH_MARKER}. Under no context takeover, kosoku 0.1.0`,
  '   # hands uncompressed messages over as a str of code points 0-255 (py2 style); latin-1',
  '   # restores the exact received bytes. See scripts/lib/kosoku-patch.mjs in sockeye.',
  '   if isinstance(msg, str):',
  "      msg = msg.encode('latin-1')",
  '   m = hashlib.sha1()',
  '',
].join('\n');

/**
 * The patched text of case12_x_x.py. Returns the text unchanged when already patched;
 * throws when the function it patches is not there (a different file than expected).
 */
export function patchCaseSource(source) {
  if (source.includes(PATCH_MARKER)) return source;
  const at = source.indexOf(ANCHOR);
  if (at === -1 || source.indexOf(ANCHOR, at + 1) !== -1) {
    throw new Error('case12_x_x.py does not contain exactly one expected onMessage(); not patching');
  }
  return source.slice(0, at) + REPLACEMENT + source.slice(at + ANCHOR.length);
}

/** The installed kosoku's site-packages folder in `venv`, or null. */
function sitePackages(venv) {
  const lib = join(venv, 'lib');
  if (!existsSync(lib)) return null;
  for (const python of readdirSync(lib)) {
    const dir = join(lib, python, 'site-packages');
    if (existsSync(join(dir, 'kosoku'))) return dir;
  }
  return null;
}

/**
 * Patch the kosoku installed in `venv` if it is the affected version. Returns what it did:
 * `'patched'`, `'already patched'`, or why it did nothing.
 */
export function patchInstalledKosoku(venv) {
  const site = sitePackages(venv);
  if (site === null) return 'kosoku is not installed';
  const distInfo = join(site, `kosoku-${PATCHED_KOSOKU_VERSION}.dist-info`);
  if (!existsSync(distInfo))
    return `kosoku is not version ${PATCHED_KOSOKU_VERSION}; the patch is not for it`;
  const file = join(site, 'kosoku', 'cases', 'case12_x_x.py');
  const source = readFileSync(file, 'utf8');
  const patched = patchCaseSource(source);
  if (patched === source) return 'already patched';
  writeFileSync(file, patched);
  // Drop the compiled copy so nothing can load the unpatched code from a stale cache.
  const cache = join(site, 'kosoku', 'cases', '__pycache__');
  if (existsSync(cache)) {
    for (const entry of readdirSync(cache)) {
      if (entry.startsWith('case12_x_x.')) rmSync(join(cache, entry), { force: true });
    }
  }
  return 'patched';
}
