// The admission math, pure: given what the store holds, may this request go now?
import type { PriorityRank } from '../priority.js';
import type { Gateway } from './types.js';

export interface WindowView {
  /** Admission times still inside the effective window, ascending. */
  times: number[];
  /** Live waiters that rank ahead of this request. */
  ahead: number;
  blockedUntil: number;
}

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

export function freeSlots(gateway: Gateway, priority: PriorityRank, now: number, times: number[]): number {
  const window = effectiveWindow(gateway);
  const inWindow = times.filter((at) => at > now - window);
  let free = capacityFor(gateway, priority) - inWindow.length;
  if (gateway.burst) {
    const span = (window * gateway.burst) / gateway.limit;
    free = Math.min(free, gateway.burst - inWindow.filter((at) => at > now - span).length);
  }
  return Math.max(0, free);
}

export function decide(gateway: Gateway, priority: PriorityRank, now: number, view: WindowView): Decision {
  const window = effectiveWindow(gateway);
  const times = view.times.filter((at) => at > now - window);
  const capacity = capacityFor(gateway, priority);
  const free = freeSlots(gateway, priority, now, times);
  const earliestExpiry = times.length > 0 ? times[0]! + window : now;
  if (now < view.blockedUntil) {
    return { admit: false, reason: 'blocked', free, wakeAt: view.blockedUntil, estimateAt: Math.max(view.blockedUntil, earliestExpiry) };
  }
  if (view.ahead < free) return { admit: true };
  // The slot this request gets is the one freed after every waiter ahead has had theirs.
  const needed = times.length - capacity + view.ahead;
  const estimateAt =
    needed < times.length && needed >= 0
      ? times[needed]! + window
      : now + Math.ceil((needed - times.length + 1) / capacity) * window;
  // Free slots that waiters ahead will take: look again shortly, not in a tight loop.
  let wakeAt = free > 0 ? now + queuedRecheckMs : earliestExpiry;
  if (gateway.burst && free === 0 && times.length < capacity) {
    const span = (window * gateway.burst) / gateway.limit;
    const inSpan = times.filter((at) => at > now - span);
    wakeAt = inSpan.length > 0 ? inSpan[0]! + span : now;
  }
  return { admit: false, reason: free === 0 ? 'full' : 'queued', free, wakeAt, estimateAt: Math.max(estimateAt, wakeAt) };
}
