import type { Command } from 'commander';
import type { Context } from './shared/context.js';
import { openCommandStore } from './shared/open-store.js';
import { sleep } from '../io.js';
import { formatDuration } from '../duration.js';
import { heartbeatsDirOption, stateDirOption } from './shared/options.js';
import { logCap, rotateOwnLog } from '../log-rotation.js';
import { diagnostic, stderrPaint, stdoutPaint, toneOf } from '../output/colour.js';
import { writeJson } from '../output/json.js';
import { renderTable, type Cell, type Column } from '../output/table.js';
import { terminalWidth } from '../output/width.js';

export function registerPoll(program: Command, ctx: Context): void {
  program
    .command('poll')
    .summary('refresh every task source for the whole fleet now, so heartbeats hit a warm cache')
    .description(
      'The coordinated poll: one Multica issue list per workspace, one agent list, one WorkBoard list per board, ' +
        'ignoring the TTL, stored in the shared cache; then per-agent counts. Meant for one crontab line every 5 minutes ' +
        '(see `claw cron print`).',
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
        const report = await pollFleet(roster, { store, config, env: ctx.io.env, runner: ctx.io.runner, clock: ctx.io.now, sleep });
        if (raw.json) {
          writeJson(ctx.io.stdout, report);
          return;
        }
        const [out, err] = [await stdoutPaint(ctx), await stderrPaint(ctx)];
        for (const r of report.refreshed) {
          const rest = `${r.items !== undefined ? ` (${r.items} item(s))` : ''}${r.detail ? `: ${r.detail}` : ''}`;
          if (r.state === 'fresh') ctx.io.stdout.write(`${r.key}: ${out('good', r.state)}${rest}\n`);
          else ctx.io.stderr.write(diagnostic(err, 'warning', `${r.key}: ${r.state}${rest}`));
          if (r.warning) ctx.io.stderr.write(diagnostic(err, 'warning', `warning: ${r.warning}`));
        }
        // Sources that are not ok, by name ("multica stale 12m"); the reasons are on stderr above.
        const sourcesOf = (a: (typeof report.agents)[number]): Cell => {
          const bad = Object.entries(a.sources).filter(([, state]) => state === 'stale' || state === 'unavailable');
          if (bad.length === 0) return { text: 'ok', tone: 'good' };
          const text = bad
            .map(([source, state]) => `${source} ${state}${state === 'stale' ? ` ${formatDuration((a.staleSeconds[source] ?? 0) * 1000)}` : ''}`)
            .join(', ');
          return { text, tone: toneOf(bad.some(([, state]) => state === 'unavailable') ? 'unavailable' : 'stale') };
        };
        const columns: Column[] = [
          { header: 'AGENT' },
          { header: 'CLAIMABLE', align: 'right' },
          { header: 'BLOCKED', align: 'right' },
          { header: 'IN PROGRESS', align: 'right' },
          { header: 'PAUSED', align: 'right' },
          { header: 'SOURCES', shrink: true },
        ];
        const rows = report.agents.map((a) => [a.agent, String(a.claimable), String(a.blocked), String(a.inProgress), String(a.paused), sourcesOf(a)]);
        const width = ctx.io.stdout.isTTY ? terminalWidth(ctx.io.stdout, ctx.io.env) : undefined;
        ctx.io.stdout.write(`${renderTable(columns, rows, { paint: out, width }).join('\n')}\n`);
      } finally {
        await store.close();
      }
    });
}
