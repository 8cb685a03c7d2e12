// Writes an idle heartbeat folds together. Statistics counted with `tally` (cache hits, misses, stale
// answers): exact once the store is closed, and on SQLite no write of their own (an idle heartbeat's
// three cache hits ride on its next write). A run's record and the release of its lock: one write.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/store/sqlite';
import { RedisStore } from '../../src/store/redis';
import type { Store } from '../../src/store/types';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function sqliteDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'claw-tally-'));
  dirs.push(dir);
  return dir;
}

const stores: [string, () => Promise<{ open: () => Promise<Store> }>][] = [
  [
    'SqliteStore',
    async () => {
      const dir = sqliteDir();
      return { open: async () => new SqliteStore({ dir, clock: Date.now }) };
    },
  ],
];
if (process.env.CLAW_TEST_REDIS_URL) {
  stores.push([
    'RedisStore',
    async () => {
      const prefix = `claw-tally:${process.pid}:${Date.now()}:`;
      return { open: () => RedisStore.connect({ url: process.env.CLAW_TEST_REDIS_URL!, prefix }) };
    },
  ]);
}

describe.each(stores)('tally on %s', (_name, setUp) => {
  it('counts every tally of every process exactly, once each store is closed', async () => {
    const { open } = await setUp();
    const [a, b] = [await open(), await open()];
    for (let i = 0; i < 5; i++) a.tally('cache', 'cacheHits');
    b.tally('cache', 'cacheHits', 2);
    b.tally('cache', 'cacheMisses');
    await a.close();
    await b.close();
    const reader = await open();
    expect(await reader.counters('cache')).toMatchObject({ cacheHits: 7, cacheMisses: 1 });
    await reader.close();
  });
});

describe.each(stores)('saveRun on %s', (_name, setUp) => {
  it("with a lease to release: records the run and lets the lease go, and only its own owner's", async () => {
    const { open } = await setUp();
    const store = await open();
    expect(await store.acquireLease('run:coo', 'host:1', 60_000)).toBe(true);
    expect(await store.acquireLease('run:cto', 'host:2', 60_000)).toBe(true);
    const run = { agent: 'coo', startedAt: Date.now(), endedAt: Date.now(), outcome: 'idle', detail: {} };
    await store.saveRun(run, { lease: 'run:coo', owner: 'host:1' });
    await store.saveRun({ ...run, agent: 'cto' }, { lease: 'run:cto', owner: 'host:9' });
    expect(await store.leaseHolder('run:coo')).toBeUndefined();
    expect(await store.leaseHolder('run:cto')).toMatchObject({ owner: 'host:2' });
    expect((await store.lastRuns(5)).map((r) => r.agent).sort()).toEqual(['coo', 'cto']);
    await store.close();
  });
});

describe('tally on SqliteStore', () => {
  it('costs no write of its own: it is committed with the next write', async () => {
    const dir = sqliteDir();
    const writer = new SqliteStore({ dir, clock: Date.now });
    const reader = new SqliteStore({ dir, clock: Date.now });
    writer.tally('cache', 'cacheHits');
    writer.tally('cache', 'cacheHits');
    expect(await reader.counters('cache')).toEqual({});
    await writer.stateSet('k', 'v');
    expect(await reader.counters('cache')).toEqual({ cacheHits: 2 });
    await writer.close();
    await reader.close();
  });
});

describe.each(stores)('reads of many keys on %s', (_name, setUp) => {
  it('stateGetMany and leaseHolders answer, key by key in the order asked, what stateGet and leaseHolder answer', async () => {
    const { open } = await setUp();
    const store = await open();
    await store.stateSet('agent:coo', '{"tasks":{}}');
    await store.stateSet('dispatch:cto', '');
    expect(await store.acquireLease('run:coo', 'host:1', 60_000)).toBe(true);
    expect(await store.acquireLease('run:old', 'host:2', 1)).toBe(true);
    await new Promise((r) => setTimeout(r, 20));
    const keys = ['dispatch:cto', 'agent:none', 'agent:coo', 'agent:coo'];
    expect(await store.stateGetMany(keys)).toEqual(['', undefined, '{"tasks":{}}', '{"tasks":{}}']);
    expect(await store.stateGetMany(keys)).toEqual(await Promise.all(keys.map((k) => store.stateGet(k))));
    expect(await store.stateGetMany([])).toEqual([]);
    const names = ['run:none', 'run:coo', 'run:old'];
    const holders = await store.leaseHolders(names);
    expect(holders.map((h) => h?.owner)).toEqual([undefined, 'host:1', undefined]);
    expect(holders).toEqual(await Promise.all(names.map((n) => store.leaseHolder(n))));
    await store.close();
  });
});
