// A patch for a bug in kosoku 0.1.0 that provisioning applies to the installed case file
// kosoku/cases/case12_x_x.py (Autobahn sections 12 and 13, permessage-deflate).
//
// The bug: kosoku's Rust core hands the case's onMessage a `str` instead of `bytes` for a
// data message that arrived uncompressed (RSV1 clear, which RFC 7692 section 6 allows: `ws`
// and sockeye do it for every message under their 1 KiB `threshold`), and the case then
// calls hashlib.sha1().update(str): behavior=ERROR "Strings must be encoded before hashing".
// Measured against `ws` at threshold 1024 (and 0, where every message is compressed and
// arrives as `bytes`):
//   - kosoku as the fuzzing SERVER (a client under test): every uncompressed message is a
//     `str`, with or without context takeover (12.x and 13.x alike);
//   - kosoku as the fuzzing CLIENT (a server under test): a `str` only when its inbound
//     direction has no context takeover (13.2.x, 13.5.x-13.7.x); with context takeover
//     (12.x, 13.1/13.3/13.4) uncompressed messages arrive as `bytes`.
// What the `str` holds depends on the message type, as kosoku's own report code says
// ("text, latin-1 binary"): a TEXT message is the decoded text (one code point per
// character: "µ" is U+00B5, one code point for two bytes), a BINARY message has one code
// point 0-255 per received byte. So the fix encodes text as UTF-8 and binary as latin-1, by
// the received message's own `binary` flag, which gives back exactly the received bytes in
// both cases. (An earlier version used latin-1 for both: right for ASCII text, wrong for
// 12.4.3, whose HTML slices contain "µ" and "ü".)
//
// It cannot make a wrong echo pass: the case's own checks stay as they are (message type,
// length, SHA-1 against what was sent). Both encodings are one to one, so only the exact
// expected bytes hash right; a binary `str` with a code point above 255 (not this byte
// mapping) raises in encode(), which kosoku reports as ERROR; a retyped echo fails the type
// check. conformance/kosoku-patch.test.ts proves it: the affected cases pass against a
// correct `ws` peer in both modes and still fail against peers that corrupt (also inside a
// non-ASCII character), truncate or retype the echo.
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** The kosoku version the patch is for. */
export const PATCHED_KOSOKU_VERSION = '0.1.0';

/** Marks a patched file (and makes applying the patch idempotent). */
export const PATCH_MARKER = 'sockeye provisioning patch v2: kosoku 0.1.0 str payloads';

/** The first version's marker: a file that carries it is re-patched from its original text. */
const OLD_PATCH_MARKER = 'sockeye provisioning patch: kosoku 0.1.0 str payloads';

const ANCHOR = 'def onMessage(self, msg, binary):\n   m = hashlib.sha1()\n';
const REPLACEMENT = [
  'def onMessage(self, msg, binary):',
  `   # ${PATCH_MARKER}. kosoku 0.1.0 hands`,
  '   # uncompressed messages over as a str: text decoded, binary one code point per byte.',
  '   # Encoding it back gives the exact received bytes. See scripts/lib/kosoku-patch.mjs.',
  '   if isinstance(msg, str):',
  "      msg = msg.encode('latin-1' if binary else 'utf-8')",
  '   m = hashlib.sha1()',
  '',
].join('\n');

/** The first version's replacement (latin-1 for text too), undone before patching again. */
const OLD_REPLACEMENT = [
  'def onMessage(self, msg, binary):',
  `   # ${OLD_PATCH_MARKER}. Under no context takeover, kosoku 0.1.0`,
  '   # hands uncompressed messages over as a str of code points 0-255 (py2 style); latin-1',
  '   # restores the exact received bytes. See scripts/lib/kosoku-patch.mjs in sockeye.',
  '   if isinstance(msg, str):',
  "      msg = msg.encode('latin-1')",
  '   m = hashlib.sha1()',
  '',
].join('\n');

/**
 * The patched text of case12_x_x.py. Returns the text unchanged when already patched, and
 * replaces the first version of the patch (latin-1 for text too) by this one; throws when the function it patches is not there (a different file than expected).
 */
export function patchCaseSource(input) {
  if (input.includes(PATCH_MARKER)) return input;
  const source = input.includes(OLD_PATCH_MARKER) ? input.replace(OLD_REPLACEMENT, ANCHOR) : input;
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
