// The shared cache: TTL by category, single-flight refresh across processes, stale-if-error.
import { parseDuration } from '../duration.js';
import type { ClawConfig } from '../config/config.js';
import type { CacheStore, CounterStore, LeaseStore } from '../store/types.js';

/** What cached() uses of the store: the cache, its hit counters, and the refresh lease. */
export type CacheBackend = CacheStore & CounterStore & LeaseStore;
import { takeLease } from '../lease.js';
import { SourceError } from '../errors.js';

/** TTLs from the seed: task sources 5 min, agent lists 1 h, knowledge and user data 1 day. */
export const defaultTtlMs: Record<string, number> = {
  workboard: 5 * 60_000,
  multica: 5 * 60_000,
  config: 60 * 60_000,
  knowledge: 24 * 60 * 60_000,
  user: 24 * 60 * 60_000,
};
const fallbackTtlMs = 5 * 60_000;
const defaultStaleForMs = 60 * 60_000;

export interface CachePolicy {
  ttlMs(category: string): number;
  staleForMs: number;
}

export function cachePolicy(config: ClawConfig): CachePolicy {
  const overrides = config.cache?.ttl ?? {};
  return {
    ttlMs: (category) => {
      const override = overrides[category];
      return override !== undefined ? parseDuration(override)! : (defaultTtlMs[category] ?? fallbackTtlMs);
    },
    staleForMs: config.cache?.staleFor !== undefined ? parseDuration(config.cache.staleFor)! : defaultStaleForMs,
  };
}

export interface Cached<T> {
  value: T;
  /** fresh: fetched now; hit: from the cache within TTL; stale: refresh failed, last good value used. */
  from: 'fresh' | 'hit' | 'stale';
  ageMs: number;
  /** Why the refresh failed, when `from` is stale. */
  error?: string;
}

export interface CachedOptions<T> {
  key: string;
  category: string;
  policy: CachePolicy;
  /** How long one refresh may take: a leader that holds the lease longer is presumed dead. */
  leaseMs: number;
  owner: string;
  refresh: () => Promise<T>;
  /** Refresh even when the cached value is within its TTL (claw poll). */
  force?: boolean;
  sleep: (ms: number) => Promise<void>;
  /**
   * Checks a value before it is stored and again when it is read back (written by another claw
   * version, or damaged): throws SourceError when the value cannot be used. A stored value that
   * fails it is treated as absent, so a bad document never serves from the shared cache.
   */
  check?: (value: unknown) => T;
}

const followerPollMs = 100;
/** A failed refresh is remembered this long so the processes waiting on it do not retry at once. */
const failureMemoryMs = 30_000;

/**
 * One value shared by every process: within its TTL it is read from the store; past it, exactly
 * one process (the lease holder) refreshes while the others wait for its result. When the refresh
 * fails, the last good value is served, marked stale, for up to `staleForMs`.
 */
export async function cached<T>(store: CacheBackend, options: CachedOptions<T>): Promise<Cached<T>> {
  const { key, category, policy } = options;
  const check = options.check ?? ((value: unknown) => value as T);
  /** The stored value, checked; undefined when it is not JSON or fails the check. */
  const decode = (entry: { value: string } | undefined): { value: T } | undefined => {
    if (!entry) return undefined;
    try {
      return { value: check(JSON.parse(entry.value)) };
    } catch (err) {
      if (err instanceof SyntaxError || err instanceof SourceError) return undefined;
      throw err;
    }
  };
  const leaseName = `refresh:${key}`;
  const failureKey = `failure:${key}`;
  const keepMs = policy.staleForMs;
  // Freshness is judged by the store's clock, so hosts whose clocks disagree share one cache.
  const seen = await store.cacheGet(key);
  const seenValue = seen && !options.force && seen.expiresAt > seen.now ? decode(seen) : undefined;
  if (seen && seenValue) {
    store.tally('cache', 'cacheHits');
    return { value: seenValue.value, from: 'hit', ageMs: seen.now - seen.storedAt };
  }
  store.tally('cache', 'cacheMisses');
  const waitStarted = seen?.now ?? (await store.now());
  const newer = (entry: { storedAt: number } | undefined) => entry !== undefined && entry.storedAt > (seen?.storedAt ?? -1);
  for (;;) {
    if ((await takeLease(store, leaseName, options.owner, options.leaseMs)).ok) {
      // A refresh may page through many calls (Multica: up to 1,000): the lease is renewed while it
      // runs, so the others keep waiting for its value instead of starting the same chain again.
      const renew = setInterval(() => void store.acquireLease(leaseName, options.owner, options.leaseMs).catch(() => undefined), options.leaseMs / 3);
      renew.unref();
      try {
        // Another process may have refreshed between our read and taking the lease.
        const latest = await store.cacheGet(key);
        const latestValue = newer(latest) ? decode(latest) : undefined;
        if (latest && latestValue) return { value: latestValue.value, from: 'hit', ageMs: latest.now - latest.storedAt };
        const value = check(await options.refresh());
        await store.cacheSet({ key, category, value: JSON.stringify(value), ttlMs: policy.ttlMs(category), keepMs });
        return { value, from: 'fresh', ageMs: 0 };
      } catch (err) {
        if (!(err instanceof SourceError)) throw err;
        await store.cacheSet({ key: failureKey, category: 'failure', value: JSON.stringify(err.message), ttlMs: failureMemoryMs, keepMs: failureMemoryMs });
        // Awaited here, inside the try: a rejection must not wait unhandled while the lease is released.
        return await staleOrThrow(store, key, policy, err.message, decode);
      } finally {
        clearInterval(renew);
        await store.releaseLease(leaseName, options.owner);
      }
    }
    // Someone else is refreshing: wait for their value (or their failure) instead of calling too.
    await options.sleep(followerPollMs);
    const latest = await store.cacheGet(key);
    const latestValue = newer(latest) ? decode(latest) : undefined;
    if (latest && latestValue) return { value: latestValue.value, from: 'hit', ageMs: latest.now - latest.storedAt };
    const failure = await store.cacheGet(failureKey);
    if (failure && failure.storedAt >= waitStarted) return staleOrThrow(store, key, policy, failureReason(failure.value), decode);
  }
}

function failureReason(stored: string): string {
  try {
    const reason: unknown = JSON.parse(stored);
    if (typeof reason === 'string') return reason;
  } catch {
    // damaged: the reason is lost, the failure is not
  }
  return 'the refresh failed';
}

async function staleOrThrow<T>(
  store: CacheBackend,
  key: string,
  policy: CachePolicy,
  reason: string,
  decode: (entry: { value: string } | undefined) => { value: T } | undefined,
): Promise<Cached<T>> {
  const last = await store.cacheGet(key);
  const lastValue = last && last.now - last.storedAt <= policy.staleForMs ? decode(last) : undefined;
  if (last && lastValue) {
    store.tally('cache', 'cacheStale');
    return { value: lastValue.value, from: 'stale', ageMs: last.now - last.storedAt, error: reason };
  }
  throw new SourceError(reason);
}
