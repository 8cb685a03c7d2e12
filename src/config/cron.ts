// Everything that needs cron-parser (and, through it, the time-zone data, which takes ~30 ms to
// load): imported only when a (schedule, tz) pair is not yet in the store's schedule book.
import { CronExpressionParser } from 'cron-parser';

export function timeZoneProblem(tz: string): string | undefined {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return undefined;
  } catch {
    return `unknown time zone ${JSON.stringify(tz)} (use an IANA name such as Asia/Shanghai)`;
  }
}

export function scheduleProblem(schedule: string, tz: string): string | undefined {
  try {
    if (schedule.trim().split(/\s+/).length !== 5) throw new Error('use the 5 fields: minute hour day-of-month month day-of-week');
    CronExpressionParser.parse(schedule, { tz });
    return undefined;
  } catch (err) {
    return `"${schedule}" is not a valid cron expression (${(err as Error).message})`;
  }
}

/** The two ticks at or before `at`, then every tick after it up to `until` (at least one). */
export function ticksAround(schedule: string, tz: string, at: number, until: number): number[] {
  const back = CronExpressionParser.parse(schedule, { tz, currentDate: new Date(at + 1) });
  const previous = [back.prev().getTime(), back.prev().getTime()].reverse();
  const ahead = CronExpressionParser.parse(schedule, { tz, currentDate: new Date(at) });
  const next: number[] = [ahead.next().getTime()];
  while (next.at(-1)! < until) next.push(ahead.next().getTime());
  return [...previous, ...next];
}
