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

// ---------------------------------------------------------------------------------------------
// A cron that ignores CRON_TZ (Debian's and Ubuntu's Vixie cron) fires every line in the host's
// zone. hostSchedule() says whether an agent's schedule fires at the same instants there, else
// translates it when a fixed offset makes that exact, else refuses with the reason.

export type HostSchedule =
  { kind: 'same'; schedule: string } | { kind: 'translated'; schedule: string; shiftMinutes: number; why: string } | { kind: 'refused'; reason: string };

/** How far ahead fire times are compared: a year covers every daylight-saving rule. */
const scanMinutes = 366 * 1440;
const minuteMs = 60_000;

interface Matcher {
  minute: boolean[];
  hour: boolean[];
  dom: boolean[];
  month: boolean[];
  dow: boolean[];
  /** Vixie cron: a day field whose text starts with `*` is a star; two non-star day fields match either (OR). */
  domStar: boolean;
  dowStar: boolean;
  raw: string[];
}

function flags(values: readonly (number | string)[], size: number, map: (v: number) => number = (v) => v): boolean[] {
  const set = new Array<boolean>(size).fill(false);
  for (const v of values) if (typeof v === 'number') set[map(v)] = true;
  return set;
}

function matcher(schedule: string): Matcher {
  const raw = schedule.trim().split(/\s+/);
  const { fields } = CronExpressionParser.parse(schedule);
  return {
    minute: flags(fields.minute.values, 60),
    hour: flags(fields.hour.values, 24),
    dom: flags(fields.dayOfMonth.values, 32),
    month: flags(fields.month.values, 13),
    dow: flags(fields.dayOfWeek.values, 7, (v) => v % 7),
    domStar: raw[2]!.startsWith('*'),
    dowStar: raw[4]!.startsWith('*'),
    raw,
  };
}

/** Syntax cron-parser accepts but Vixie cron and cronie reject (the whole crontab would fail to install). */
export function crontabSyntaxProblem(schedule: string): string | undefined {
  return /[LW#?]/i.test(
    schedule.replace(/[a-z]{3}/gi, (name) => (/^(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|sun|mon|tue|wed|thu|fri|sat)$/i.test(name) ? '' : name)),
  )
    ? `"${schedule}" uses L, W, # or ?, which cron does not understand`
    : undefined;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** Minutes the zone's wall clock is ahead of UTC at `at`. */
export function offsetMinutes(tz: string, at: number): number {
  let format = formatters.get(tz);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone: tz,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
    });
    formatters.set(tz, format);
  }
  const p: Record<string, number> = {};
  for (const part of format.formatToParts(at)) if (part.type !== 'literal') p[part.type] = Number(part.value);
  const wall = Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!);
  return Math.round((wall - Math.floor(at / minuteMs) * minuteMs) / minuteMs);
}

interface Segment {
  start: number;
  offset: number;
}

/** The zone's offset as pieces over [from, to): hourly samples, each change bisected to the minute. */
function offsetSegments(tz: string, from: number, to: number): Segment[] {
  const hourMs = 60 * minuteMs;
  const segments: Segment[] = [{ start: from, offset: offsetMinutes(tz, from) }];
  for (let t = from + hourMs; t < to; t += hourMs) {
    const offset = offsetMinutes(tz, t);
    const current = segments.at(-1)!.offset;
    if (offset === current) continue;
    let lo = t - hourMs;
    let hi = t;
    while (hi - lo > minuteMs) {
      const mid = lo + Math.floor((hi - lo) / (2 * minuteMs)) * minuteMs;
      if (offsetMinutes(tz, mid) === current) lo = mid;
      else hi = mid;
    }
    segments.push({ start: hi, offset });
  }
  return segments;
}

/** Whether the schedule fires at the wall-clock minute (minutes since 1970-01-01 00:00 on that clock). */
function firesAt(m: Matcher, wallMinute: number): boolean {
  const ofDay = ((wallMinute % 1440) + 1440) % 1440;
  if (!m.minute[ofDay % 60] || !m.hour[Math.floor(ofDay / 60)]) return false;
  const date = new Date(Math.floor(wallMinute / 1440) * 1440 * minuteMs);
  if (!m.month[date.getUTCMonth() + 1]) return false;
  const dom = m.dom[date.getUTCDate()]!;
  const dow = m.dow[date.getUTCDay()]!;
  return m.domStar || m.dowStar ? dom && dow : dom || dow;
}

/** The first instant at which `a` in its zone and `b` in its zone disagree (one fires, the other not), if any. */
function firstDifference(a: Matcher, aSegments: Segment[], b: Matcher, bSegments: Segment[], from: number): number | undefined {
  let ai = 0;
  let bi = 0;
  for (let i = 0; i < scanMinutes; i++) {
    const t = from + i * minuteMs;
    while (ai + 1 < aSegments.length && aSegments[ai + 1]!.start <= t) ai++;
    while (bi + 1 < bSegments.length && bSegments[bi + 1]!.start <= t) bi++;
    const minute = t / minuteMs;
    if (firesAt(a, minute + aSegments[ai]!.offset) !== firesAt(b, minute + bSegments[bi]!.offset)) return t;
  }
  return undefined;
}

/** The distinct (agent zone - host zone) offsets over the scanned year. */
function offsetDifferences(a: Segment[], b: Segment[]): number[] {
  const at = (segments: Segment[], t: number) => segments.filter((s) => s.start <= t).at(-1)!.offset;
  const starts = [...new Set([...a, ...b].map((s) => s.start))];
  return [...new Set(starts.map((t) => at(a, t) - at(b, t)))];
}

export function formatOffset(minutes: number): string {
  const abs = Math.abs(minutes);
  return `${minutes < 0 ? '-' : '+'}${String(Math.floor(abs / 60)).padStart(2, '0')}:${String(abs % 60).padStart(2, '0')}`;
}

const range = (n: number, first = 0) => Array.from({ length: n }, (_, i) => i + first);

function fieldText(set: boolean[], first: number, original: string, originalSet: boolean[]): string {
  if (set.every((v, i) => v === originalSet[i])) return original;
  const values = range(set.length - first, first).filter((v) => set[v]);
  if (values.length === set.length - first) return '*';
  const parts: string[] = [];
  for (let i = 0; i < values.length;) {
    let j = i;
    while (j + 1 < values.length && values[j + 1] === values[j]! + 1) j++;
    parts.push(j - i >= 2 ? `${values[i]}-${values[j]}` : values.slice(i, j + 1).join(','));
    i = j + 1;
  }
  return parts.join(',');
}

/** The schedule in the host's zone for an agent zone `shift` minutes ahead of it, or why one line cannot say it. */
function shifted(m: Matcher, shift: number): { schedule: string } | { why: string } {
  const minute = new Array<boolean>(60).fill(false);
  const hour = new Array<boolean>(24).fill(false);
  const times = new Set<number>();
  const dayShifts = new Set<number>();
  for (const h of range(24).filter((v) => m.hour[v])) {
    for (const mi of range(60).filter((v) => m.minute[v])) {
      const total = h * 60 + mi - shift;
      const ofDay = ((total % 1440) + 1440) % 1440;
      times.add(ofDay);
      minute[ofDay % 60] = true;
      hour[Math.floor(ofDay / 60)] = true;
      dayShifts.add(Math.floor(total / 1440));
    }
  }
  if (times.size !== minute.filter(Boolean).length * hour.filter(Boolean).length) {
    return { why: `shifted by ${formatOffset(-shift)} its minutes land in different hours, which one crontab line cannot express` };
  }
  const everyDay =
    m.month.slice(1).every(Boolean) &&
    (m.domStar || m.dowStar ? m.dom.slice(1).every(Boolean) && m.dow.every(Boolean) : m.dom.slice(1).every(Boolean) || m.dow.every(Boolean));
  const [min, hr, dom, month, dow] = m.raw as [string, string, string, string, string];
  const times5 = `${fieldText(minute, 0, min, m.minute)} ${fieldText(hour, 0, hr, m.hour)}`;
  if (everyDay || (dayShifts.size === 1 && dayShifts.has(0))) return { schedule: `${times5} ${dom} ${month} ${dow}` };
  if (dayShifts.size === 1 && dom === '*' && m.month.slice(1).every(Boolean)) {
    const days = dayShifts.values().next().value!;
    const shiftedDow = new Array<boolean>(7).fill(false);
    for (const d of range(7).filter((v) => m.dow[v])) shiftedDow[(((d + days) % 7) + 7) % 7] = true;
    return { schedule: `${times5} ${dom} ${month} ${fieldText(shiftedDow, 0, dow, m.dow)}` };
  }
  return {
    why: `shifted by ${formatOffset(-shift)} some runs move to ${dayShifts.has(-1) ? 'the day before' : 'the next day'}, which one line cannot express with its day-of-month or month field`,
  };
}

/**
 * Where a cron that ignores CRON_TZ fires `schedule` for an agent in `tz` on a host in `hostTz`:
 * the same line when it fires at the same instants in both zones over the next year, a translated
 * line when a fixed offset between the zones makes that exact (checked again over the year), else
 * refused with the reason.
 */
export function hostSchedule(schedule: string, tz: string, hostTz: string, now: number): HostSchedule {
  if (tz === hostTz) return { kind: 'same', schedule };
  const from = Math.floor(now / minuteMs) * minuteMs;
  const to = from + scanMinutes * minuteMs;
  const agent = matcher(schedule);
  const agentSegments = offsetSegments(tz, from, to);
  const hostSegments = offsetSegments(hostTz, from, to);
  if (firstDifference(agent, agentSegments, agent, hostSegments, from) === undefined) return { kind: 'same', schedule };
  const differences = offsetDifferences(agentSegments, hostSegments);
  if (differences.length > 1) {
    return {
      kind: 'refused',
      reason: `${tz} is ${differences.map(formatOffset).join(' or ')} from ${hostTz} depending on the time of year (daylight saving time), so no fixed line fires at the same instants`,
    };
  }
  const shift = differences[0]!;
  const result = shifted(agent, shift);
  if ('why' in result) return { kind: 'refused', reason: result.why };
  if (firstDifference(agent, agentSegments, matcher(result.schedule), hostSegments, from) !== undefined) {
    return { kind: 'refused', reason: `no line in ${hostTz} fires at the same instants (checked over a year)` };
  }
  return {
    kind: 'translated',
    schedule: result.schedule,
    shiftMinutes: shift,
    why: `${tz} is a fixed ${formatOffset(shift)} from ${hostTz}; checked to fire at the same instants over the next year`,
  };
}

const dayNames = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

/** A systemd OnCalendar= for the schedule in `tz`, when one expression can say it. */
export function onCalendar(schedule: string, tz: string): string | undefined {
  const m = matcher(schedule);
  const all = (set: boolean[], first: number) => set.slice(first).every(Boolean);
  if (!m.domStar && !m.dowStar && !all(m.dom, 1) && !all(m.dow, 0)) return undefined;
  const list = (set: boolean[], first: number, pad: number) =>
    all(set, first)
      ? '*'
      : range(set.length - first, first)
          .filter((v) => set[v])
          .map((v) => String(v).padStart(pad, '0'))
          .join(',');
  const days = all(m.dow, 0)
    ? ''
    : `${range(7)
        .filter((v) => m.dow[v])
        .map((v) => dayNames[v])
        .join(',')} `;
  return `OnCalendar=${days}*-${list(m.month, 1, 2)}-${list(m.dom, 1, 2)} ${list(m.hour, 0, 2)}:${list(m.minute, 0, 2)}:00 ${tz}`;
}
