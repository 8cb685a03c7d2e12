// The crontab for the roster: one line per agent, the poll line, log files, in a marked block.
import { execFileSync } from 'node:child_process';
import { UnavailableError } from '../errors.js';
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

/** The user's crontab, '' when there is none yet. */
export function readCrontab(env: NodeJS.ProcessEnv): string {
  try {
    return execFileSync('crontab', ['-l'], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') throw new UnavailableError('crontab not found on PATH: install cron (apt-get install cron) or use `claw cron print`');
    if (/no crontab/i.test(String(e.stderr))) return '';
    throw new UnavailableError(`crontab -l failed: ${String(e.stderr).trim()}`);
  }
}

export function writeCrontab(env: NodeJS.ProcessEnv, text: string): void {
  try {
    execFileSync('crontab', ['-'], { env, input: text, stdio: ['pipe', 'ignore', 'pipe'] });
  } catch (err) {
    throw new UnavailableError(`crontab - failed: ${String((err as { stderr?: string }).stderr ?? (err as Error).message).trim()}`);
  }
}
