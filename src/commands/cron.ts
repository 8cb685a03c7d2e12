import { mkdirSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { Context } from '../cli.js';
import { stateDir } from '../config/paths.js';
import { heartbeatsDirOption, shellQuote } from './roster-options.js';
import { redactStoreUrl } from '../redact.js';

/** A crontab as shown: the value of every `NAME=...` line that may hold a URL password redacted. */
function shownCrontab(text: string): string {
  // `user:password@` or `?password=` (MAILTO=ops@example.com has neither and stays as it is).
  return text.replace(/^(\s*[A-Za-z_][A-Za-z0-9_]*\s*=\s*)(.*(?::.*@|\?.*=).*)$/gm, (_, name: string, value: string) => `${name}${redactStoreUrl(value)}`);
}

interface RawCronOptions {
  heartbeatsDir?: string;
  logDir?: string;
  dryRun?: boolean;
}

export function registerCron(program: Command, ctx: Context): void {
  const cron = program
    .command('cron')
    .summary('print or install the crontab for the roster')
    .description(
      'One line per agent (`claw heartbeat <agent>` on its schedule, CRON_TZ per time zone), the poll line\n' +
        'every 5 minutes, and a log file per line. `install` replaces the marked block in your crontab\n' +
        'and keeps everything else; running it twice changes nothing.',
    )
    .addHelpText('after', '\nExamples:\n  claw cron print\n  claw cron install --dry-run\n  claw cron install --log-dir /var/log/claw');

  const block = async (raw: RawCronOptions) => {
    const [{ loadConfig }, { heartbeatsDir, loadRoster }, { crontabBlock }] = await Promise.all([
      import('../config/config.js'),
      import('../config/roster.js'),
      import('../heartbeat/cron.js'),
    ]);
    const config = loadConfig(ctx.io.env);
    const dir = heartbeatsDir(ctx.io.env, config, ctx.io.cwd, raw.heartbeatsDir);
    // No store here: cron print works before any state exists, so the schedules are checked afresh.
    const roster = await loadRoster(dir, { pairs: {}, changed: false }, ctx.io.now());
    const logDir = raw.logDir ?? join(stateDir(ctx.io.env), 'logs');
    const bin = realpathSync(process.argv[1] ?? 'claw');
    const env: Record<string, string> = { CLAW_HEARTBEATS_DIR: dir };
    for (const key of ['CLAW_STATE_DIR', 'CLAW_CONFIG_DIR', 'CLAW_STORE'] as const) {
      if (ctx.io.env[key]) env[key] = ctx.io.env[key]!;
    }
    return { text: crontabBlock(roster, { command: `${shellQuote(process.execPath)} ${shellQuote(bin)}`, logDir, env }), logDir };
  };

  cron
    .command('print')
    .description('print the crontab block for the roster')
    .addOption(heartbeatsDirOption())
    .option('--log-dir <dir>', 'where each line appends its output (default: <state dir>/logs)')
    .action(async (raw: RawCronOptions) => {
      // The block as shown hides the store password; `claw cron install` writes the real one.
      ctx.io.stdout.write(shownCrontab((await block(raw)).text));
    });

  cron
    .command('install')
    .description("replace claw's block in your crontab (idempotent)")
    .addOption(heartbeatsDirOption())
    .option('--log-dir <dir>', 'where each line appends its output (default: <state dir>/logs)')
    .option('--dry-run', 'print the crontab that would be installed; change nothing')
    .action(async (raw: RawCronOptions) => {
      const { replaceBlock, readCrontab, writeCrontab } = await import('../heartbeat/cron.js');
      const { text, logDir } = await block(raw);
      const current = readCrontab(ctx.io.env);
      const next = replaceBlock(current, text);
      if (raw.dryRun) {
        ctx.io.stdout.write(`[dry run] would install this crontab:\n${shownCrontab(next)}`);
        return;
      }
      if (next === current) {
        ctx.io.stdout.write('crontab already up to date\n');
        return;
      }
      mkdirSync(logDir, { recursive: true, mode: 0o700 });
      writeCrontab(ctx.io.env, next);
      ctx.io.stdout.write(`installed the claw block (${text.split('\n').filter((l) => /^\S+ \S+ \S+ \S+ \S+ /.test(l)).length} lines) in your crontab; logs in ${logDir}\n`);
    });
}
