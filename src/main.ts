// The entry of dist/cli.cjs: the program with every command. bin/claw loads it for `claw` alone,
// `--help`, `claw help` and anything that is not a command; a command run by name loads the bundle
// build.mjs makes for that command alone (dist/claw-<command>.cjs), so a cron start reads and loads
// only the code of the command it runs.
import { runCli, type Registration } from './cli.js';
import type { IO } from './io.js';
import { registerCall } from './commands/call.js';
import { registerStatus } from './commands/status.js';
import { registerConfig } from './commands/config.js';
import { registerHelp } from './commands/help.js';
import { registerHeartbeat } from './commands/heartbeat.js';
import { registerPoll } from './commands/poll.js';
import { registerCache } from './commands/cache.js';
import { registerCron } from './commands/cron.js';
import { registerDoctor } from './commands/doctor.js';
import { registerUnblock } from './commands/unblock.js';
import { registerProxy } from './commands/proxy.js';

export const registrations: readonly Registration[] = [
  ['heartbeat', registerHeartbeat],
  ['poll', registerPoll],
  ['call', registerCall],
  ['status', registerStatus],
  ['cache', registerCache],
  ['cron', registerCron],
  ['doctor', registerDoctor],
  ['unblock', registerUnblock],
  ['proxy', registerProxy],
  ['config', registerConfig],
  ['help', registerHelp],
];

export function main(argv: string[], io?: IO): Promise<number> {
  return runCli(registrations, argv, io);
}
