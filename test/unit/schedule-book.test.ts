import { describe, expect, it } from 'vitest';
import { checkSchedules, pairKey, readScheduleBook, saveScheduleBook, ticksNear } from '../../src/cron/schedule-book';
import type { StateStore } from '../../src/store/types';

function memoryStore(): StateStore {
  const state = new Map<string, string>();
  return { stateGet: async (k: string) => state.get(k), stateSet: async (k: string, v: string) => void state.set(k, v) };
}

const at = Date.parse('2026-11-26T03:07:00Z');
const failNever = (field: string, why: string): never => {
  throw new Error(`${field}: ${why}`);
};

describe('the schedule book', () => {
  it('checks a pair once, then answers from the store', async () => {
    const store = memoryStore();
    const book = await readScheduleBook(store);
    await checkSchedules(book, [{ schedule: '*/10 * * * *', tz: 'Asia/Shanghai', fail: failNever }], at);
    expect(book.changed).toBe(true);
    await saveScheduleBook(store, book);
    const again = await readScheduleBook(store);
    await checkSchedules(again, [{ schedule: '*/10 * * * *', tz: 'Asia/Shanghai', fail: failNever }], at);
    expect(again.changed).toBe(false);
    expect(await ticksNear(again, '*/10 * * * *', 'Asia/Shanghai', at)).toEqual({
      next: Date.parse('2026-11-26T03:10:00Z'),
      latest: Date.parse('2026-11-26T03:00:00Z'),
      before: Date.parse('2026-11-26T02:50:00Z'),
    });
    expect(again.changed).toBe(false);
  });

  it('names the field of a bad time zone or cron expression', async () => {
    const book = await readScheduleBook(memoryStore());
    await expect(checkSchedules(book, [{ schedule: '*/10 * * * *', tz: 'Mars/Olympus', fail: failNever }], at)).rejects.toThrow(
      /^tz: unknown time zone "Mars\/Olympus"/,
    );
    await expect(checkSchedules(book, [{ schedule: '61 * * * *', tz: 'UTC', fail: failNever }], at)).rejects.toThrow(
      /^schedule: "61 \* \* \* \*" is not a valid cron expression/,
    );
    await expect(checkSchedules(book, [{ schedule: '* * * *', tz: 'UTC', fail: failNever }], at)).rejects.toThrow(/5 fields/);
  });

  it("works the ticks out again once now is past the ones it holds, in the schedule's time zone", async () => {
    const book = await readScheduleBook(memoryStore());
    await checkSchedules(book, [{ schedule: '0 9 * * *', tz: 'Asia/Shanghai', fail: failNever }], at);
    const held = book.pairs[pairKey('0 9 * * *', 'Asia/Shanghai')]!;
    // 09:00 in Shanghai is 01:00 UTC.
    expect(held.slice(0, 3)).toEqual([Date.parse('2026-11-25T01:00:00Z'), Date.parse('2026-11-26T01:00:00Z'), Date.parse('2026-11-27T01:00:00Z')]);
    const later = Date.parse('2026-11-28T12:00:00Z');
    book.changed = false;
    expect(await ticksNear(book, '0 9 * * *', 'Asia/Shanghai', later)).toEqual({
      next: Date.parse('2026-11-29T01:00:00Z'),
      latest: Date.parse('2026-11-28T01:00:00Z'),
      before: Date.parse('2026-11-27T01:00:00Z'),
    });
    expect(book.changed).toBe(true);
  });
});
