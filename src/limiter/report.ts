// What `claw status` shows for one gateway, derived from the store's state.
import { priorities, type PriorityName } from '../priority.js';
import type { LimitStore } from '../store/types.js';
import { waitBuckets } from './types.js';
import { effectiveWindow, freeSlots } from './admission.js';
import type { Gateway } from './types.js';
import { localIso } from './limiter.js';

export interface GatewayReport {
  name: string;
  limited: boolean;
  limit: number | null;
  windowMs: number | null;
  used: number;
  free: number | null;
  nextFreeAt: string | null;
  waiters: Record<PriorityName, number>;
  blockedUntil: string | null;
  /** The block in force: who set it (origin), why, the upstream's message, when it started and ends. */
  block: { until: string; reason: string; origin: string; message: string | null; setAt: string } | null;
  counters: { admitted: number; fallbacks: number; dropped: number; rateLimited: number; retries: number };
  waitedMs: { p50: number | null; p95: number | null };
}

/** The upper bound of the bucket holding the q-th quantile of recorded waits. */
export function waitQuantile(counters: Record<string, number>, q: number): number | null {
  const counts = waitBuckets.map((bound) => counters[`wait_le_${bound === Infinity ? 'inf' : bound}`] ?? 0);
  const total = counts.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    seen += counts[i]!;
    if (seen >= q * total) return Number.isFinite(waitBuckets[i]!) ? waitBuckets[i]! : null;
  }
  return null;
}

/**
 * Times are shown on the reader's clock (`localNow`, default the store's): the store's timeline may
 * differ from it after a clock step, and whatever a store holds gives a valid date.
 */
export async function gatewayReport(store: LimitStore, gateway: Gateway, localNow?: number): Promise<GatewayReport> {
  const state = await store.gatewayState(gateway);
  const iso = (t: number) => localIso(t, state.now, localNow ?? state.now);
  const block = state.block && state.block.until > state.now ? state.block : undefined;
  const c = state.counters;
  const used = state.used;
  const limited = gateway.limited;
  return {
    name: gateway.name,
    limited,
    limit: limited ? gateway.limit : null,
    windowMs: limited ? gateway.windowMs : null,
    used,
    free: limited ? freeSlots(gateway, 3, state.now, state.times) : null,
    nextFreeAt: limited && used > 0 && state.times.length > 0 ? iso(state.times[0]! + effectiveWindow(gateway)) : null,
    waiters: Object.fromEntries(priorities.map((p) => [p, state.waiters[p] ?? 0])) as Record<PriorityName, number>,
    blockedUntil: block ? iso(block.until) : null,
    block: block ? { until: iso(block.until), reason: block.reason, origin: block.origin, message: block.message ?? null, setAt: iso(block.setAt) } : null,
    counters: {
      admitted: c.admitted ?? 0,
      fallbacks: c.fallbacks ?? 0,
      dropped: c.dropped ?? 0,
      rateLimited: c.rateLimited ?? 0,
      retries: c.retries ?? 0,
    },
    waitedMs: { p50: waitQuantile(c, 0.5), p95: waitQuantile(c, 0.95) },
  };
}
