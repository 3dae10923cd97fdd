/** Every command of the `sockeye` tool, in the order `sockeye --help` lists them. Add one file, add one line. */
import type { Command } from '../cli.js';
import { benchCommand } from './bench.js';
import { connectCommand } from './connect.js';
import { frameCommand } from './frame.js';
import { listenCommand } from './listen.js';
import { serveCommand } from './serve.js';

/** The registered commands. */
export const commands: readonly Command[] = [
  connectCommand,
  listenCommand,
  serveCommand,
  benchCommand,
  frameCommand,
];
