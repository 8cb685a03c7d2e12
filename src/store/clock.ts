// The SQLite store's clock: one timeline for every process on the host, immune to clock steps.
//
// Why not the wall clock: a store shared by processes needs one timeline that advances with real
// time. The wall clock of one process can be stepped (NTP, a wrong RTC after boot, a test's
// CLAW_CLOCK_OFFSET_MS) and nothing stored can tell a step from real time passing: a process whose
// clock is 3 s ahead, reading an admission made 2.5 s ago, sees it 5.5 s old, so a 1-per-5 s gateway
// lets it through. The old rule, max(local clock, highest time stored), avoided minting capacity on a
// step back but froze the gateway for as long as any process had been ahead (a day ahead: a day),
// and a process ahead still made the others' admissions expire early.
//
// So the timeline is anchored once per boot: base = max(wall clock, highest time stored), taken with
// the kernel's monotonic clock (CLOCK_MONOTONIC, shared by every process on the host, never stepped);
// afterwards now = base + (monotonic now - monotonic at the anchor). A step of any process's wall
// clock, either way, then costs nothing: no capacity lost, nothing admitted early, no freeze. Only the
// anchor reads a wall clock: after a reboot (another boot id, or the monotonic clock went back) the
// new anchor starts at max(wall clock, highest time stored), so the timeline never goes back. A wall
// clock that is absurd (an old store's 1e20, an offset out of range) is never used as a time.
// The timeline may drift from the wall clock by the size of a step taken after the anchor; status
// shows times relative to the reader's clock, so that drift is never visible.
import { readFileSync } from 'node:fs';

/** The latest time the store accepts (year 9999): anything later is an old bug's value, not a time. */
export const maxTime = 253_402_300_799_999;

export function saneTime(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && value <= maxTime;
}

/** A wall-clock reading made safe to compute with: NaN or out-of-range becomes the nearest bound. */
export function clampTime(value: number): number {
  if (!Number.isFinite(value)) return value > 0 ? maxTime : 0;
  return Math.round(Math.min(Math.max(value, 0), maxTime));
}

export interface ClockAnchor {
  boot: number;
  mono: number;
  base: number;
}

export interface StoredClock {
  high?: number;
  anchor?: Partial<ClockAnchor>;
}

export interface LocalClock {
  wall: number;
  mono: number;
  boot: number;
}

/**
 * The store's now, and a new anchor to save when the stored one does not apply (none yet, another
 * boot, or the monotonic clock went back). A stored high mark past any sane time is ignored.
 * Stamps later than the returned now (an older claw, a bad anchor) are the store's to clamp.
 */
export function timeline(stored: StoredClock, local: LocalClock): { now: number; anchor?: ClockAnchor } {
  const wall = clampTime(local.wall);
  const high = saneTime(stored.high) ? stored.high : 0;
  const a = stored.anchor;
  if (a && a.boot === local.boot && saneTime(a.mono) && saneTime(a.base) && local.mono >= a.mono) {
    // The stored high mark is not consulted here: every process of this boot writes on this same
    // timeline, and a mark ahead of it (written by an older claw from a clock that ran ahead) must
    // not freeze it.
    const now = a.base + (local.mono - a.mono);
    if (saneTime(now)) return { now };
  }
  const now = Math.max(wall, high);
  return { now, anchor: { boot: local.boot, mono: local.mono, base: now } };
}

export { monotonicMs } from '../host.js';

let bootKey: number | undefined;

/** Identifies this boot of the host (Linux's boot_id, 48 bits of it); 0 where there is none. */
export function currentBoot(): number {
  if (bootKey === undefined) {
    try {
      bootKey = parseInt(readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').replace(/-/g, '').slice(0, 12), 16) || 0;
    } catch {
      // No boot id: a reboot still shows as the monotonic clock going back.
      bootKey = 0;
    }
  }
  return bootKey;
}
