import type { Command } from 'commander';
import type { Context } from './shared/context.js';
import { openCommandStore } from './shared/open-store.js';
import { ExitCode } from '../errors.js';
import { sleep } from '../io.js';
import { heartbeatsDirOption, stateDirOption } from './shared/options.js';
import { logCap, rotateOwnLog } from '../log-rotation.js';
import { shellQuote } from '../shell-quote.js';
import type { HeartbeatReport } from '../heartbeat/types.js';
import { diagnostic, plain, stderrPaint, stdoutPaint, toneOf, type Paint } from '../output/colour.js';
import { writeJson } from '../output/json.js';

interface RawHeartbeatOptions {
  dryRun?: boolean;
  json?: boolean;
  splay: boolean;
  heartbeatsDir?: string;
  stateDir?: string;
}

export function formatHeartbeat(report: HeartbeatReport, paint: Paint = plain): string {
  const out: string[] = [];
  const d = report.dispatch;
  const word = (outcome: string) => paint(toneOf(outcome), outcome);
  const head = {
    idle: `${word('idle')}: nothing to do, no model call`,
    dispatched: `${report.dryRun ? 'would dispatch' : word('dispatched')} ${d?.tasks.length ?? 0} task(s)`,
    degraded: d
      ? `${word('degraded')}: ${report.dryRun ? 'would dispatch' : 'dispatched'} ${d.tasks.length} task(s) with a source unavailable`
      : `${word('degraded')}: a source is unavailable; nothing to do in the others`,
    failed: `${word('failed')}: ${report.error ?? ''}`,
    skipped: `${word('skipped')}: ${report.error ?? ''}`,
    deferred: `${word('deferred')}: ${report.error ?? ''}`,
  }[report.outcome];
  out.push(`${report.agent}: ${report.dryRun ? '[dry run] ' : ''}${head}`);
  if (report.outcome === 'skipped') return `${out.join('\n')}\n`;
  const source = (s: HeartbeatReport['sources'][number]) =>
    `${s.source} ${paint(toneOf(s.state), s.state)}${s.state === 'ok' ? ` (${s.tasks} task(s))` : s.detail ? ` (${s.detail})` : ''}`;
  out.push(`  ${paint('dim', 'sources:')} ${report.sources.map(source).join('; ')}`);
  const c = report.counts;
  out.push(
    paint(
      'dim',
      `  claimable ${c.claimable}, blocked ${c.blocked}, in progress ${c.inProgress}, stalled ${c.suspected} suspected / ${c.confirmed} confirmed, paused ${c.paused}`,
    ),
  );
  for (const b of report.blocked) out.push(`  blocked: [${b.source} ${b.id}] ${b.title}${b.waitingOn.length ? ` (waiting on ${b.waitingOn.join(', ')})` : ''}`);
  for (const t of report.claimable) out.push(`  to do: [${t.source} ${t.id}] ${t.title} (${t.priority}, round ${t.rounds + (d ? 1 : 0)})`);
  for (const t of report.recover) out.push(`  recover: [${t.source} ${t.id}] ${t.title}`);
  for (const t of report.paused) out.push(`  paused: [${t.source} ${t.id}] ${t.title} (after ${t.rounds} rounds)`);
  if (d) {
    out.push(`  dispatch via ${d.gateway} (${d.priority}, model ${d.model})${d.exitCode !== undefined ? `: exit ${d.exitCode ?? 'none'}` : ''}`);
    if (report.dryRun) out.push(`[dry run] would run: ${d.argv.map(shellQuote).join(' ')}`);
  }
  for (const n of report.notifications) out.push(`  escalation ${n.condition}: ${n.sent ? 'notified' : paint('warn', `not sent (${n.error})`)}`);
  for (const w of report.warnings) out.push(`  ${paint('warn', 'warning:')} ${w}`);
  return `${out.join('\n')}\n`;
}

export function registerHeartbeat(program: Command, ctx: Context): void {
  program
    .command('heartbeat')
    .summary("check one agent's three task sources; wake it only when there is work")
    .description(
      "Run by crontab, one line per agent. Checks WorkBoard cards, Multica issues and todo docs in the agent's workspace " +
        '(shared sources through the shared cache), then: nothing to do -> idle, no model call; claimable tasks ' +
        '(dependencies met) or confirmed stalls -> exactly one dispatch through the shared limit.\n\n' +
        'One run per agent at a time; a second is skipped. Idle runs print nothing off a TTY.',
    )
    .argument('<agent>', 'agent id from the roster, e.g. coo')
    .option('--dry-run', 'show the decision and the exact dispatch command; dispatch and record nothing')
    .option('--json', 'print the full report as JSON')
    .option('--no-splay', "skip the agent's deterministic start delay (cron runs use it off a TTY)")
    .addOption(heartbeatsDirOption())
    .addOption(stateDirOption())
    .addHelpText(
      'after',
      '\nExamples:\n  claw heartbeat coo --dry-run\n  claw heartbeat coo --json --no-splay\n  */10 * * * * claw heartbeat coo   # crontab; see `claw cron print`\n\nExit: 0 idle, dispatched, degraded or skipped; 75 when the dispatch failed.',
    )
    .action(async (agentId: string, raw: RawHeartbeatOptions) => {
      const [{ loadConfig }, { heartbeatsDir, loadAgent }, { runHeartbeat }, book] = await Promise.all([
        import('../config/config.js'),
        import('../config/roster.js'),
        import('../heartbeat/run.js'),
        import('../cron/schedule-book.js'),
      ]);
      const config = loadConfig(ctx.io.env);
      rotateOwnLog(logCap(config)); // the crontab line's `>> <log dir>/x.log`, kept under logs.maxSize
      const store = await openCommandStore(ctx, config, raw.stateDir);
      try {
        const schedules = await book.readScheduleBook(store);
        const agent = await loadAgent(heartbeatsDir(ctx.io.env, config, ctx.io.cwd, raw.heartbeatsDir), agentId, schedules, ctx.io.now());
        await book.saveScheduleBook(store, schedules);
        const report = await runHeartbeat(agent, {
          store,
          config,
          env: ctx.io.env,
          runner: ctx.io.runner,
          clock: ctx.io.now,
          sleep,
          splay: raw.splay && !ctx.io.stdout.isTTY,
          dryRun: Boolean(raw.dryRun),
        });
        // `ok` follows the exit code: false only when the dispatch failed (exit 75).
        if (raw.json) writeJson(ctx.io.stdout, { ok: report.outcome !== 'failed', ...report });
        else if (report.outcome === 'skipped')
          ctx.io.stderr.write(diagnostic(await stderrPaint(ctx), 'warning', `heartbeat ${agent.id} skipped: ${report.error}`));
        // Cron-quiet: an idle run off a TTY prints nothing, so cron mails only what matters.
        else if (report.outcome !== 'idle' || ctx.io.stdout.isTTY || report.dryRun) ctx.io.stdout.write(formatHeartbeat(report, await stdoutPaint(ctx)));
        ctx.exitCode = report.outcome === 'failed' ? ExitCode.tempFail : ExitCode.ok;
      } finally {
        await store.close();
      }
    });
}
