/**
 * The shared byte-level vectors (../shared/vectors/websocket-vectors.json), committed as
 * a copy so a clean clone can test without the shared folder; vectors.test.ts checks the
 * copy still equals the shared file wherever that file exists.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** Path of the committed copy. */
export const VECTORS_PATH = join(here, 'websocket-vectors.json');
/** Path of the shared original, relative to the repository root's parent. */
export const SHARED_VECTORS_PATH = join(
  here,
  '..',
  '..',
  '..',
  '..',
  '..',
  'shared',
  'vectors',
  'websocket-vectors.json',
);

/** A single-frame vector, or a fragmented one (`frames_hex`), or a header-only one. */
export interface FrameVector {
  name: string;
  source: string;
  hex?: string;
  frames_hex?: string[];
  header_hex?: string;
  payload_length?: number;
  fin?: boolean;
  opcode?: number;
  masked?: boolean;
  mask_key_hex?: string;
  payload_utf8?: string;
  message_utf8?: string;
}

/** The file's shape. */
export interface Vectors {
  handshake_accept: Array<{ source: string; key: string; accept: string }>;
  guid: string;
  frames: FrameVector[];
  masking: Array<{
    name: string;
    payload_utf8: string;
    payload_hex: string;
    mask_key_hex: string;
    masked_hex: string;
  }>;
  permessage_deflate: Array<{
    name: string;
    frame_hex?: string;
    frames_hex?: string[];
    frames_hex_in_order?: string[];
    message_utf8?: string;
    messages_utf8?: string[];
  }>;
  close_codes: { valid_on_wire: number[]; never_on_wire: number[] };
}

/** The vectors, parsed. */
export const vectors: Vectors = JSON.parse(readFileSync(VECTORS_PATH, 'utf8'));

/** Hex to a fresh Buffer (fresh, since the parser unmasks in place). */
export function hex(text: string): Buffer {
  return Buffer.from(text, 'hex');
}
