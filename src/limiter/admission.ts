// The admission math, pure: given what the store holds, may this request go now? This is the one
// spec of admission: the SQLite store calls decide() inside its transaction; the Redis script makes
// only the yes/no part of it (see redis-scripts.ts) and hands decide() the figures it read for the
// rest; test/contract/admission.test.ts runs one table of cases against all three.
//
// A decision needs a handful of figures, never the whole window: how many admissions the window
// holds (and the burst span, when there is one), the oldest one (it frees next), and, when the
// request must wait, the one whose expiry is its turn. `AdmissionWindow` asks for exactly those, so
// a store answers from an index or a counter and the cost does not grow with the limit.
import type { PriorityRank } from '../priority.js';
import type { Gateway } from './types.js';

/** The admissions a store holds for one gateway, asked for only what a decision needs. */
export interface AdmissionWindow {
  /** How many admissions are later than `since`; at most `atMost` (a count past it changes nothing). */
  count(since: number, atMost?: number): number;
  /** The time of the (i + 1)-th oldest admission later than `since` (0 <= i < count(since)). */
  nth(since: number, i: number): number;
}

export type WindowView = {
  /** Live waiters that rank ahead of this request. */
  ahead: number;
  blockedUntil: number;
} & (
  | {
      /** Admission times (ascending); those outside the effective window are ignored. */
      times: number[];
    }
  | { window: AdmissionWindow }
);

export type Decision =
  | { admit: true }
  | {
      admit: false;
      reason: 'blocked' | 'full' | 'queued';
      free: number;
      /** The earliest moment the answer may change: a slot expires or the block ends. */
      wakeAt: number;
      /** A best guess at when this request will be admitted. */
      estimateAt: number;
    };

/** Free slots that waiters ahead will take: look again this soon, not in a tight loop. */
export const queuedRecheckMs = 50;

/** A slot stays taken for the window plus the margin that covers the trip to the server. */
export function effectiveWindow(gateway: Gateway): number {
  return gateway.windowMs + gateway.marginMs;
}

/** `low` never takes the last `reserveLow` share of a window, so later urgent work finds room. */
export function capacityFor(gateway: Gateway, priority: PriorityRank): number {
  if (priority !== 4) return gateway.limit;
  return Math.max(1, Math.floor(gateway.limit * (1 - gateway.reserveLow)));
}

/**
 * `burst` admissions at most in any span of this many ms (`window × burst / limit`, rounded up to a
 * whole ms so every store computes the same times); undefined without a burst.
 */
export function burstSpan(gateway: Gateway): number | undefined {
  return gateway.burst ? Math.ceil((effectiveWindow(gateway) * gateway.burst) / gateway.limit) : undefined;
}

/** Admission times as a window: the sorted array answers by binary search. */
export function timesWindow(times: number[]): AdmissionWindow {
  const sorted = times.every((t, i) => i === 0 || times[i - 1]! <= t) ? times : [...times].sort((a, b) => a - b);
  const firstAfter = (since: number) => {
    let lo = 0;
    let hi = sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (sorted[mid]! > since) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  };
  return {
    count: (since, atMost = Infinity) => Math.min(atMost, sorted.length - firstAfter(since)),
    nth: (since, i) => sorted[firstAfter(since) + i]!,
  };
}

function windowOf(view: WindowView): AdmissionWindow {
  return 'window' in view ? view.window : timesWindow(view.times);
}

interface Room {
  /** Admissions in the effective window. */
  used: number;
  /** Admissions in the burst span (0 without a burst). */
  inSpan: number;
  free: number;
}

function room(gateway: Gateway, priority: PriorityRank, now: number, window: AdmissionWindow): Room {
  const used = window.count(now - effectiveWindow(gateway));
  let free = capacityFor(gateway, priority) - used;
  const span = burstSpan(gateway);
  let inSpan = 0;
  if (span !== undefined) {
    // Counting past `burst` changes nothing: the span is full either way.
    inSpan = window.count(now - span, gateway.burst!);
    free = Math.min(free, gateway.burst! - inSpan);
  }
  return { used, inSpan, free: Math.max(0, free) };
}

export function freeSlots(gateway: Gateway, priority: PriorityRank, now: number, times: number[]): number {
  return room(gateway, priority, now, timesWindow(times)).free;
}

export function decide(gateway: Gateway, priority: PriorityRank, now: number, view: WindowView): Decision {
  const window = windowOf(view);
  const win = effectiveWindow(gateway);
  const since = now - win;
  const capacity = capacityFor(gateway, priority);
  const { used, inSpan, free } = room(gateway, priority, now, window);
  const earliestExpiry = () => (used > 0 ? window.nth(since, 0) + win : now);
  if (now < view.blockedUntil) {
    return { admit: false, reason: 'blocked', free, wakeAt: view.blockedUntil, estimateAt: Math.max(view.blockedUntil, earliestExpiry()) };
  }
  if (view.ahead < free) return { admit: true };
  // The slot this request gets is the one freed after every waiter ahead has had theirs.
  const needed = neededIndex(used, capacity, view.ahead);
  const estimateAt = needed < used && needed >= 0 ? window.nth(since, needed) + win : now + Math.ceil((needed - used + 1) / capacity) * win;
  let wakeAt = free > 0 ? now + queuedRecheckMs : earliestExpiry();
  const span = burstSpan(gateway);
  if (span !== undefined && free === 0 && used < capacity) {
    wakeAt = inSpan > 0 ? window.nth(now - span, 0) + span : now;
  }
  return { admit: false, reason: free === 0 ? 'full' : 'queued', free, wakeAt, estimateAt: Math.max(estimateAt, wakeAt) };
}

/**
 * Which admission's expiry is this request's turn: the (needed + 1)-th oldest in the window, when
 * 0 <= needed < used; past the window's contents the estimate counts whole windows.
 */
export function neededIndex(used: number, capacity: number, ahead: number): number {
  return used - capacity + ahead;
}
