// What `claw status` shows for one gateway, derived from the store's state.
import { priorities, type PriorityName } from '../priority.js';
import type { Store } from '../store/types.js';
import { waitBuckets } from '../store/types.js';
import { effectiveWindow, freeSlots } from './admission.js';
import type { Gateway } from './gateways.js';

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

export async function gatewayReport(store: Store, gateway: Gateway): Promise<GatewayReport> {
  const state = await store.gatewayState(gateway);
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
    nextFreeAt: limited && used > 0 ? new Date(state.times[0]! + effectiveWindow(gateway)).toISOString() : null,
    waiters: Object.fromEntries(priorities.map((p) => [p, state.waiters[p] ?? 0])) as Record<PriorityName, number>,
    blockedUntil: state.blockedUntil > state.now ? new Date(state.blockedUntil).toISOString() : null,
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
