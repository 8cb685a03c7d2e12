import type { Command } from 'commander';
import type { Context } from './shared/context.js';
import { openCommandStore } from './shared/open-store.js';
import { sleep } from '../io.js';
import { formatDuration } from '../duration.js';
import { heartbeatsDirOption, stateDirOption } from './shared/options.js';
import { logCap, rotateOwnLog } from '../log-rotation.js';

export function registerPoll(program: Command, ctx: Context): void {
  program
    .command('poll')
    .summary('refresh every task source for the whole fleet now, so heartbeats hit a warm cache')
    .description(
      "The coordinated poll: one Multica issue list per workspace, one agent list, one WorkBoard list per\n" +
        'board, ignoring the TTL, stored in the shared cache; then per-agent counts. Meant for one crontab\n' +
        'line every 5 minutes (see `claw cron print`).',
    )
    .option('--json', 'print the report as JSON')
    .addOption(heartbeatsDirOption())
    .addOption(stateDirOption())
    .addHelpText('after', '\nExamples:\n  claw poll\n  claw poll --json\n  */5 * * * * claw poll   # crontab')
    .action(async (raw: { json?: boolean; heartbeatsDir?: string; stateDir?: string }) => {
      const [{ loadConfig }, { heartbeatsDir, loadRoster }, { pollFleet }, book] = await Promise.all([
        import('../config/config.js'),
        import('../config/roster.js'),
        import('../heartbeat/poll.js'),
        import('../cron/schedule-book.js'),
      ]);
      const config = loadConfig(ctx.io.env);
      rotateOwnLog(logCap(config)); // the crontab line's `>> <log dir>/x.log`, kept under logs.maxSize
      const store = await openCommandStore(ctx, config, raw.stateDir);
      try {
        const schedules = await book.readScheduleBook(store);
        const roster = await loadRoster(heartbeatsDir(ctx.io.env, config, ctx.io.cwd, raw.heartbeatsDir), schedules, ctx.io.now());
        await book.saveScheduleBook(store, schedules);
        const report = await pollFleet(roster, { store, config, env: ctx.io.env, clock: ctx.io.now, sleep });
        if (raw.json) {
          ctx.io.stdout.write(`${JSON.stringify({ ok: true, ...report }, null, 2)}\n`);
          return;
        }
        for (const r of report.refreshed) {
          const text = `${r.key}: ${r.state}${r.items !== undefined ? ` (${r.items} item(s))` : ''}${r.detail ? `: ${r.detail}` : ''}\n`;
          (r.state === 'fresh' ? ctx.io.stdout : ctx.io.stderr).write(r.state === 'fresh' ? text : `claw: ${text}`);
          if (r.warning) ctx.io.stderr.write(`claw: warning: ${r.warning}\n`);
        }
        const width = Math.max(5, ...report.agents.map((a) => a.agent.length));
        // Sources that are not ok, by name ("multica stale 12m"); the reasons are on stderr above.
        const sourcesOf = (a: (typeof report.agents)[number]) =>
          Object.entries(a.sources)
            .filter(([, state]) => state === 'stale' || state === 'unavailable')
            .map(([source, state]) => `${source} ${state}${state === 'stale' ? ` ${formatDuration((a.staleSeconds[source] ?? 0) * 1000)}` : ''}`)
            .join(', ') || 'ok';
        ctx.io.stdout.write(`${'AGENT'.padEnd(width)}  CLAIMABLE  BLOCKED  IN PROGRESS  PAUSED  SOURCES\n`);
        for (const a of report.agents) {
          ctx.io.stdout.write(`${a.agent.padEnd(width)}  ${String(a.claimable).padEnd(9)}  ${String(a.blocked).padEnd(7)}  ${String(a.inProgress).padEnd(11)}  ${String(a.paused).padEnd(6)}  ${sourcesOf(a)}\n`);
        }
      } finally {
        await store.close();
      }
    });
}
