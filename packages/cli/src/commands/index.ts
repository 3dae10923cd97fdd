/** Every command of the `sockeye` tool, in the order `sockeye --help` lists them. Add one file, add one line. */
import type { Command } from '../cli.js';
import { frameCommand } from './frame.js';

/** The registered commands. */
export const commands: readonly Command[] = [frameCommand];
