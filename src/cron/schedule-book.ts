// The schedule book: each (schedule, tz) pair of the roster, checked once with cron-parser, and its
// ticks around now, kept in the store. A heartbeat or status whose pairs are in the book needs
// neither cron-parser nor the time-zone data, which would cost every cron start ~40 ms.
import type { StateStore } from '../store/types.js';

const bookKey = 'schedules';
/** How far ahead ticks are worked out each time the book is written. */
const horizonMs = 6 * 60 * 60_000;

export interface ScheduleBook {
  pairs: Record<string, number[]>;
  changed: boolean;
}

export const pairKey = (schedule: string, tz: string) => `${tz} ${schedule}`;

export async function readScheduleBook(store: StateStore): Promise<ScheduleBook> {
  const text = await store.stateGet(bookKey);
  return { pairs: text ? (JSON.parse(text) as Record<string, number[]>) : {}, changed: false };
}

export async function saveScheduleBook(store: StateStore, book: ScheduleBook): Promise<void> {
  if (book.changed) await store.stateSet(bookKey, JSON.stringify(book.pairs));
}

/** Validates the pairs the book does not know; throws the reason for the first bad one. */
export async function checkSchedules(
  book: ScheduleBook,
  entries: { schedule: string; tz: string; fail: (field: string, why: string) => never }[],
  now: number,
): Promise<void> {
  const unknown = entries.filter((e) => !book.pairs[pairKey(e.schedule, e.tz)]);
  if (unknown.length === 0) return;
  const cron = await import('./schedule.js');
  for (const entry of unknown) {
    const tzProblem = cron.timeZoneProblem(entry.tz);
    if (tzProblem) entry.fail('tz', tzProblem);
    const problem = cron.scheduleProblem(entry.schedule, entry.tz);
    if (problem) entry.fail('schedule', problem);
    book.pairs[pairKey(entry.schedule, entry.tz)] = cron.ticksAround(entry.schedule, entry.tz, now, now + horizonMs);
    book.changed = true;
  }
}

/** The next tick after `now` and the two latest at or before it, worked out again when the book's run out. */
export async function ticksNear(book: ScheduleBook, schedule: string, tz: string, now: number): Promise<{ next: number; latest: number; before: number }> {
  const key = pairKey(schedule, tz);
  let ticks = book.pairs[key];
  if (!ticks || ticks.length < 3 || ticks[1]! > now || ticks.at(-1)! <= now) {
    const cron = await import('./schedule.js');
    ticks = cron.ticksAround(schedule, tz, now, now + horizonMs);
    book.pairs[key] = ticks;
    book.changed = true;
  }
  const nextIndex = ticks.findIndex((t) => t > now);
  return { next: ticks[nextIndex]!, latest: ticks[nextIndex - 1]!, before: ticks[nextIndex - 2]! };
}
