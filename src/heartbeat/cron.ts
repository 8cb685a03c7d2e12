// The crontab for the roster: one line per agent, the poll line, log files, in a marked block.
import type { Roster } from '../config/roster.js';

export const blockStart = '# >>> claw heartbeats (managed by `claw cron install`; edits inside this block are replaced) >>>';
export const blockEnd = '# <<< claw heartbeats <<<';

export interface CrontabOptions {
  /** How cron starts claw: absolute paths, since cron's PATH is minimal. */
  command: string;
  logDir: string;
  env: Record<string, string>;
  pollSchedule?: string;
}

export function crontabBlock(roster: Roster, options: CrontabOptions): string {
  const lines = [blockStart];
  for (const [key, value] of Object.entries(options.env)) lines.push(`${key}=${value}`);
  lines.push(`${options.pollSchedule ?? '*/5 * * * *'} ${options.command} poll >> ${options.logDir}/poll.log 2>&1`);
  // CRON_TZ applies to the lines after it: group the agents by time zone.
  const zones = [...new Set(roster.agents.map((a) => a.tz))];
  for (const tz of zones) {
    lines.push(`CRON_TZ=${tz}`);
    for (const agent of roster.agents.filter((a) => a.tz === tz)) {
      lines.push(`${agent.schedule} ${options.command} heartbeat ${agent.id} >> ${options.logDir}/${agent.id}.log 2>&1`);
    }
  }
  lines.push(blockEnd);
  return `${lines.join('\n')}\n`;
}

/** Replaces the marked block in a crontab, or appends it; everything else is kept as it was. */
export function replaceBlock(crontab: string, block: string): string {
  const start = crontab.indexOf(blockStart);
  const end = crontab.indexOf(blockEnd);
  if (start >= 0 && end > start) {
    const after = crontab.slice(end + blockEnd.length).replace(/^\n/, '');
    return `${crontab.slice(0, start)}${block}${after}`;
  }
  const base = crontab === '' || crontab.endsWith('\n') ? crontab : `${crontab}\n`;
  return `${base}${block}`;
}
