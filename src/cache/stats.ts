import type { CacheStore, CounterStore } from '../store/types.js';

export interface CacheStats {
  categories: { category: string; entries: number; fresh: number; stale: number; oldestAgeMs: number | null }[];
  hits: number;
  misses: number;
  staleServed: number;
  hitRate: number | null;
}

export async function cacheStats(store: CacheStore & CounterStore): Promise<CacheStats> {
  const now = await store.now();
  const entries = (await store.cacheEntries()).filter((e) => e.category !== 'failure');
  const byCategory = new Map<string, CacheStats['categories'][number]>();
  for (const e of entries) {
    const c = byCategory.get(e.category) ?? { category: e.category, entries: 0, fresh: 0, stale: 0, oldestAgeMs: null };
    c.entries += 1;
    if (e.expiresAt > now) c.fresh += 1;
    else c.stale += 1;
    c.oldestAgeMs = Math.max(c.oldestAgeMs ?? 0, now - e.storedAt);
    byCategory.set(e.category, c);
  }
  const counters = await store.counters('cache');
  const hits = counters.cacheHits ?? 0;
  const misses = counters.cacheMisses ?? 0;
  return {
    categories: [...byCategory.values()].sort((a, b) => a.category.localeCompare(b.category)),
    hits,
    misses,
    staleServed: counters.cacheStale ?? 0,
    hitRate: hits + misses > 0 ? hits / (hits + misses) : null,
  };
}
