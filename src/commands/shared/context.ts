// What every command is handed: the IO of this run, and where it sets its exit code. Kept apart from
// cli.ts so a command depends on this, not on the program that registers it.
import type { Command } from 'commander';
import type { IO } from '../../io.js';

export interface Context {
  io: IO;
  /** Set by the command that ran. */
  exitCode: number;
  /** The global --no-color option and the command's --json (read by the output layer, src/output/colour.ts). */
  noColor: boolean;
  json: boolean;
}

/** How a command adds itself to the program. */
export type Register = (program: Command, ctx: Context) => void;
