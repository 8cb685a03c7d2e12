// How claw starts programs: every child process goes through one injected ProcessRunner. The real
// one (execa, ./execa-runner.ts, a bundle of its own) is loaded on the first start, so a command
// that starts nothing (`claw status`, an idle heartbeat with a warm cache) never parses it.

import type { ProcessRunner } from './types.js';

export type { ProcessResult, ProcessRunner, RunOptions, StreamOptions, StreamResult } from './types.js';

/** The real runner: execa, required the first time a program is started. */
export const execaRunner: ProcessRunner = {
  run: async (argv, options) => (await import('./execa-runner.js')).run(argv, options),
  stream: async (argv, options) => (await import('./execa-runner.js')).stream(argv, options),
};
