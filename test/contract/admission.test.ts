// One admission spec for both stores (issue 8, item 4): a table of cases (the window's contents,
// the waiters, a block, the request's priority, the clock) and the decision each must give, run
// against decide() itself, against SqliteStore and against RedisStore, in process, on an injected
// clock. Each store is seeded through its own API: admissions at their times, waiters registered at
// theirs (refused by a moment's block), so what is tested is what the store really keeps.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decide } from '../../src/limiter/admission';
import { toGateway, type Gateway } from '../../src/limiter/gateways';
import type { GatewayConfig } from '../../src/config/config';
import type { PriorityRank } from '../../src/priority';
import { SqliteStore } from '../../src/store/sqlite';
import { RedisStore } from '../../src/store/redis';
import type { AdmitResult, Store } from '../../src/store/types';
import Database from '../helpers/sqlite-db.cjs';

interface Waiter {
  priority: PriorityRank;
  /** When it registered, ms relative to the request (negative: before). */
  at: number;
  /** Its lease (default 1500 ms, the limiter's). */
  leaseMs?: number;
  /** This is the request itself, asking again. */
  self?: true;
}

interface Case {
  name: string;
  gateway: GatewayConfig;
  /** Admission times, ms relative to the request. */
  admissions: number[];
  waiters?: Waiter[];
  /** A block set at the request's moment, ending this many ms after it. */
  block?: number;
  priority: PriorityRank;
  /** Times relative to the request. */
  expect: { admit: true } | { reason: 'blocked' | 'full' | 'queued'; free: number; wakeAt: number; estimateAt: number; ahead: number };
}

const g5 = { limit: 5, window: '10s', margin: 0 };
const full5 = [-9000, -8000, -7000, -6000, -5000];
const spread = (n: number, from: number, step: number) => Array.from({ length: n }, (_, i) => from + i * step);

const cases: Case[] = [
  { name: 'an empty window admits', gateway: g5, admissions: [], priority: 3, expect: { admit: true } },
  { name: 'a window with room admits', gateway: g5, admissions: [-9000, -8000, -7000, -6000], priority: 3, expect: { admit: true } },
  {
    name: 'a full window waits for its oldest admission to expire',
    gateway: g5,
    admissions: full5,
    priority: 3,
    expect: { reason: 'full', free: 0, wakeAt: 1000, estimateAt: 1000, ahead: 0 },
  },
  {
    name: 'an admission exactly one window old has expired',
    gateway: g5,
    admissions: [-10_000, -8000, -7000, -6000, -5000],
    priority: 3,
    expect: { admit: true },
  },
  {
    name: 'expired admissions not yet deleted do not count (10 of them)',
    gateway: g5,
    admissions: [...spread(10, -30_000, 100), -4000, -3000, -2000, -1000],
    priority: 3,
    expect: { admit: true },
  },
  {
    name: 'expired admissions do not count (40 of them, deleted on the way)',
    gateway: g5,
    admissions: [...spread(40, -30_000, 100), ...full5],
    priority: 3,
    expect: { reason: 'full', free: 0, wakeAt: 1000, estimateAt: 1000, ahead: 0 },
  },
  {
    name: 'the margin keeps a slot taken past the window',
    gateway: { limit: 2, window: '1s', margin: '250ms' },
    admissions: [-1100, -500],
    priority: 3,
    expect: { reason: 'full', free: 0, wakeAt: 150, estimateAt: 150, ahead: 0 },
  },
  {
    name: 'live waiters ahead take the free slots: queued, look again shortly',
    gateway: g5,
    admissions: [-9000, -8000, -7000],
    waiters: [
      { priority: 3, at: -100 },
      { priority: 3, at: -50 },
    ],
    priority: 3,
    expect: { reason: 'queued', free: 2, wakeAt: 50, estimateAt: 1000, ahead: 2 },
  },
  {
    name: 'one waiter ahead and two free slots: admitted',
    gateway: g5,
    admissions: [-9000, -8000, -7000],
    waiters: [{ priority: 3, at: -100 }],
    priority: 3,
    expect: { admit: true },
  },
  {
    name: 'a waiter of a higher priority registered later is ahead; one of the same priority registered later is not',
    gateway: g5,
    admissions: full5,
    waiters: [
      { priority: 3, at: -300, self: true },
      { priority: 3, at: -200 },
      { priority: 1, at: -100 },
    ],
    priority: 3,
    expect: { reason: 'full', free: 0, wakeAt: 1000, estimateAt: 2000, ahead: 1 },
  },
  {
    name: "the request's own waiter row does not count against it",
    gateway: g5,
    admissions: [-9000, -8000, -7000, -6000],
    waiters: [
      { priority: 3, at: -300, self: true },
      { priority: 3, at: -200 },
    ],
    priority: 3,
    expect: { admit: true },
  },
  {
    name: 'a waiter whose lease ran out is not ahead',
    gateway: g5,
    admissions: [-9000],
    waiters: [{ priority: 1, at: -3000, leaseMs: 1500 }],
    priority: 3,
    expect: { admit: true },
  },
  {
    name: 'low priority stays out of the reserved share',
    gateway: { ...g5, reserveLow: 0.2 },
    admissions: [-9000, -8000, -7000, -6000],
    priority: 4,
    expect: { reason: 'full', free: 0, wakeAt: 1000, estimateAt: 1000, ahead: 0 },
  },
  {
    name: 'normal priority takes the reserved share',
    gateway: { ...g5, reserveLow: 0.2 },
    admissions: [-9000, -8000, -7000, -6000],
    priority: 3,
    expect: { admit: true },
  },
  {
    name: "low priority's turn comes after the reserve and the waiters ahead have expired",
    gateway: { limit: 10, window: '10s', margin: 0, reserveLow: 0.2 },
    admissions: spread(10, -9500, 1000),
    waiters: [{ priority: 2, at: -10 }],
    priority: 4,
    expect: { reason: 'full', free: 0, wakeAt: 500, estimateAt: 3500, ahead: 1 },
  },
  {
    name: 'a turn past the window counts whole windows',
    gateway: { limit: 2, window: '10s', margin: 0 },
    admissions: [-5000],
    waiters: [
      { priority: 1, at: -30 },
      { priority: 1, at: -20 },
      { priority: 1, at: -10 },
    ],
    priority: 3,
    expect: { reason: 'queued', free: 1, wakeAt: 50, estimateAt: 10_000, ahead: 3 },
  },
  {
    name: 'a block holds every priority even with room, until it ends',
    gateway: g5,
    admissions: [-9000],
    block: 5000,
    priority: 1,
    expect: { reason: 'blocked', free: 4, wakeAt: 5000, estimateAt: 5000, ahead: 0 },
  },
  {
    name: 'a block shorter than the full window: the estimate is the slot',
    gateway: g5,
    admissions: full5,
    block: 500,
    priority: 3,
    expect: { reason: 'blocked', free: 0, wakeAt: 500, estimateAt: 1000, ahead: 0 },
  },
  {
    name: 'burst: a full span waits for its oldest admission to leave it',
    gateway: { limit: 10, window: '10s', margin: 0, burst: 2 },
    admissions: [-1500, -100],
    priority: 3,
    expect: { reason: 'full', free: 0, wakeAt: 500, estimateAt: 500, ahead: 0 },
  },
  {
    name: 'burst: an admission that left the span frees it',
    gateway: { limit: 10, window: '10s', margin: 0, burst: 2 },
    admissions: [-2500, -100],
    priority: 3,
    expect: { admit: true },
  },
  {
    // window x burst / limit = 333.3 ms: rounded up to 334 ms in every store (Lua once rounded the
    // wake time down and TypeScript kept the fraction).
    name: 'burst: a span that is not a whole number of ms is rounded up, the same in every store',
    gateway: { limit: 3, window: '1s', margin: 0, burst: 1 },
    admissions: [-333],
    priority: 3,
    expect: { reason: 'full', free: 0, wakeAt: 1, estimateAt: 1, ahead: 0 },
  },
  {
    name: 'burst: just outside the rounded span admits',
    gateway: { limit: 3, window: '1s', margin: 0, burst: 1 },
    admissions: [-334],
    priority: 3,
    expect: { admit: true },
  },
  {
    name: 'a large window: the turn near its start is read from the oldest end',
    gateway: { limit: 100, window: '100s', margin: 0, reserveLow: 0.2 },
    admissions: spread(100, -99_500, 1000),
    priority: 4,
    expect: { reason: 'full', free: 0, wakeAt: 500, estimateAt: 20_500, ahead: 0 },
  },
  {
    name: 'a large window: the turn near its end is read from the newest end',
    gateway: { limit: 100, window: '100s', margin: 0 },
    admissions: spread(100, -99_500, 1000),
    waiters: spread(70, -700, 10).map((at) => ({ priority: 2 as PriorityRank, at })),
    priority: 3,
    expect: { reason: 'full', free: 0, wakeAt: 500, estimateAt: 70_500, ahead: 70 },
  },
];

/** Each case runs on its own gateway at its own time, later than the one before on one store clock. */
const base = 1_800_000_000_000;
const caseSpacing = 10_000_000;

function gatewayOf(c: Case, i: number): Gateway {
  return toGateway(`case${i}`, c.gateway);
}

/** Live waiters that rank ahead of the request, as the stores must count them. */
function aheadOf(c: Case): number {
  const waiters = c.waiters ?? [];
  const self = waiters.find((w) => w.self);
  return waiters.filter(
    (w) =>
      !w.self &&
      w.at + (w.leaseMs ?? 1500) >= 0 &&
      (w.priority < c.priority || (w.priority === c.priority && (!self || waiters.indexOf(w) < waiters.indexOf(self)))),
  ).length;
}

function expected(c: Case, now: number) {
  return 'admit' in c.expect
    ? { admitted: true }
    : {
        admitted: false,
        reason: c.expect.reason,
        free: c.expect.free,
        wakeAt: now + c.expect.wakeAt,
        estimateAt: now + c.expect.estimateAt,
        ahead: c.expect.ahead,
      };
}

function shape(result: AdmitResult) {
  if (result.admitted) return { admitted: true };
  const { reason, free, wakeAt, estimateAt, ahead } = result;
  return { admitted: false, reason, free, wakeAt, estimateAt, ahead };
}

interface Harness {
  store: Store;
  setNow(t: number): void;
  close(): Promise<void>;
}

/** Seeds the case through the store's API, in time order, and asks for the request at `now`. */
async function runCase(h: Harness, c: Case, i: number, now: number): Promise<AdmitResult> {
  const gateway = gatewayOf(c, i);
  // Seeding admits every admission: a wide-open gateway of the same name that prunes nothing.
  const open = { ...gateway, limit: 1e9, windowMs: 1e12, marginMs: 0, reserveLow: 0 };
  delete open.burst;
  const events = [
    ...c.admissions.map((at, n) => ({
      at,
      order: 0,
      n,
      run: async () => expect((await h.store.admit({ gateway: open, priority: 1, waiterId: `c${i}-a${n}`, leaseMs: 1500, queue: false })).admitted).toBe(true),
    })),
    ...(c.waiters ?? []).map((w, n) => ({
      at: w.at,
      order: 1,
      n,
      run: async () => {
        // A moment's block refuses it, so it registers as a waiter, as a waiting request does.
        await h.store.blockUntil(gateway.name, now + w.at + 1);
        const r = await h.store.admit({ gateway, priority: w.priority, waiterId: `c${i}-w${n}`, leaseMs: w.leaseMs ?? 1500, queue: true });
        expect(r.admitted).toBe(false);
        expect(await h.store.clearBlock(gateway.name)).toBe(true);
      },
    })),
  ].sort((a, b) => a.at - b.at || a.order - b.order || a.n - b.n);
  for (const event of events) {
    h.setNow(now + event.at);
    await event.run();
  }
  h.setNow(now);
  if (c.block !== undefined) await h.store.blockUntil(gateway.name, now + c.block);
  const selfIndex = (c.waiters ?? []).findIndex((w) => w.self);
  const waiterId = selfIndex >= 0 ? `c${i}-w${selfIndex}` : `c${i}-request`;
  return h.store.admit({ gateway, priority: c.priority, waiterId, leaseMs: 1500, queue: true });
}

async function sqliteHarness(): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'claw-contract-'));
  let t = base;
  // The same injected time for the wall clock (read once, at the anchor) and the monotonic clock:
  // the store's timeline is then exactly `t`.
  const store = new SqliteStore({ dir, clock: () => t, monotonic: () => t });
  return {
    store,
    setNow: (to) => (t = to),
    close: async () => {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function redisHarness(): Promise<Harness> {
  let t = base;
  const store = await RedisStore.connect({ url: process.env.CLAW_TEST_REDIS_URL!, prefix: `claw-contract:${process.pid}:${Date.now()}:`, testClock: () => t });
  return { store, setNow: (to) => (t = to), close: () => store.close() };
}

describe('the admission spec: decide()', () => {
  it.each(cases.map((c, i) => [c.name, c, i] as const))('%s', (_name, c, i) => {
    const now = base + i * caseSpacing;
    const gateway = gatewayOf(c, i);
    const ahead = aheadOf(c);
    if (!('admit' in c.expect)) expect(ahead).toBe(c.expect.ahead);
    const decision = decide(gateway, c.priority, now, {
      times: c.admissions.map((at) => now + at),
      ahead,
      blockedUntil: c.block === undefined ? 0 : now + c.block,
    });
    const { admitted: _a, ahead: _ahead, ...want } = expected(c, now) as Record<string, unknown>;
    expect(decision.admit ? { admit: true } : decision).toEqual('admit' in c.expect ? { admit: true } : { admit: false, ...want });
  });
});

const stores: [string, () => Promise<Harness>][] = [['SqliteStore', sqliteHarness]];
if (process.env.CLAW_TEST_REDIS_URL) stores.push(['RedisStore', redisHarness]);

describe.each(stores)('the admission spec: %s, in process, on an injected clock', (_name, make) => {
  let h: Harness;
  beforeAll(async () => {
    h = await make();
  });
  afterAll(async () => {
    await h?.close();
  });

  it.each(cases.map((c, i) => [c.name, c, i] as const))('%s', async (_name, c, i) => {
    const now = base + i * caseSpacing;
    const result = await runCase(h, c, i, now);
    expect(result.now).toBe(now);
    expect(shape(result)).toEqual(expected(c, now));
  });
});

describe.each(stores)('what a store adds to the spec: %s', (_name, make) => {
  let h: Harness;
  beforeAll(async () => {
    h = await make();
  });
  afterAll(async () => {
    await h?.close();
  });
  const later = base + 1000 * caseSpacing;

  it('a request asking again after its admission finds it: admitted once, counted once', async () => {
    const gateway = toGateway('again', g5);
    h.setNow(later);
    const first = await h.store.admit({ gateway, priority: 3, waiterId: 'again-1', leaseMs: 1500, queue: true });
    h.setNow(later + 10);
    const second = await h.store.admit({ gateway, priority: 3, waiterId: 'again-1', leaseMs: 1500, queue: true });
    expect([first.admitted, second.admitted]).toEqual([true, true]);
    expect(second.admitted && second.admissionId).toBe('again-1');
    const state = await h.store.gatewayState(gateway);
    expect(state.used).toBe(1);
    expect(state.counters.admitted).toBe(1);
  });

  it("an admission counts the request's wait in the histogram, in the same step; a refusal counts nothing", async () => {
    const gateway = toGateway('histogram', { limit: 1, window: '10s', margin: 0 });
    h.setNow(later + caseSpacing);
    expect((await h.store.admit({ gateway, priority: 3, waiterId: 'h-1', leaseMs: 1500, queue: true, waitedMs: 120 })).admitted).toBe(true);
    expect((await h.store.admit({ gateway, priority: 3, waiterId: 'h-2', leaseMs: 1500, queue: true, waitedMs: 3000 })).admitted).toBe(false);
    expect(await h.store.counters('histogram')).toEqual({ admitted: 1, wait_le_200: 1 });
  });

  it('a read does not move the stored clock: after the clock steps back, the next write follows the clock, not the read', async () => {
    const t = later + 2 * caseSpacing;
    h.setNow(t);
    await h.store.count('clock', 'writes');
    h.setNow(t + 1000);
    expect(await h.store.now()).toBe(t + 1000);
    expect((await h.store.gatewayState(toGateway('clock', g5))).now).toBe(t + 1000);
    // The clock steps back half a second: no write saw t + 1000, so none is held to it.
    h.setNow(t + 500);
    const r = await h.store.admit({ gateway: toGateway('clock', g5), priority: 3, waiterId: 'clock-1', leaseMs: 1500, queue: false });
    expect(r.now).toBe(t + 500);
  });
});

// SQLite keeps how many admissions each gateway holds (meta 'admissions:<gateway>'), so a decision
// never counts the window. The count must be right whatever wrote the rows: a store from before it
// (schema 2), and an older claw writing beside a newer one.
describe("the SQLite store's count of admissions", () => {
  const gateway = toGateway('legacy', { limit: 3, window: '10s', margin: 0 });
  let t = base;
  const open = (dir: string) => new SqliteStore({ dir, clock: () => t, monotonic: () => t });
  const ask = (store: Store, id: string) => store.admit({ gateway, priority: 3, waiterId: id, leaseMs: 1500, queue: false });

  it('a schema 2 store is upgraded: its admissions are counted, and the limit holds over them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'claw-contract-'));
    const store = open(dir);
    await store.count('x', 'y');
    await store.close();
    // What a schema 2 store holds: admissions, no count, no triggers.
    const db = new Database(join(dir, 'claw.db'));
    db.exec(`drop trigger admission_count_insert; drop trigger admission_count_delete; drop trigger admission_count_move;
      delete from meta where key like 'admissions:%'; pragma user_version = 2`);
    const insert = db.prepare('insert into admissions (id, gateway, at, priority) values (?, ?, ?, 3)');
    const before = t;
    for (const [n, at] of [-20_000, -9000, -8000].entries()) insert.run(`old-${n}`, 'legacy', before + at);
    db.close();
    const upgraded = open(dir);
    t += 10;
    expect(await ask(upgraded, 'new-1')).toMatchObject({ admitted: true });
    expect(await ask(upgraded, 'new-2')).toMatchObject({ admitted: false, reason: 'full', wakeAt: before - 9000 + 10_000 });
    expect((await upgraded.gatewayState(gateway)).used).toBe(3);
    await upgraded.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('rows an older claw writes and deletes (it knows nothing of the count) are counted all the same', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'claw-contract-'));
    const store = open(dir);
    t += 1_000_000;
    expect(await ask(store, 'mine-1')).toMatchObject({ admitted: true });
    // An older claw: its own upgrade sets user_version back to 2; it inserts and prunes as it did.
    const db = new Database(join(dir, 'claw.db'));
    db.exec('pragma user_version = 2');
    db.prepare('insert into admissions (id, gateway, at, priority) values (?, ?, ?, 3)').run('older-1', 'legacy', t - 20_000);
    db.prepare('insert into admissions (id, gateway, at, priority) values (?, ?, ?, 3)').run('older-2', 'legacy', t - 5);
    db.prepare('insert into admissions (id, gateway, at, priority) values (?, ?, ?, 3)').run('older-3', 'legacy', t - 4);
    db.prepare('delete from admissions where gateway = ? and at <= ?').run('legacy', t - 10_000);
    db.close();
    expect(await ask(store, 'mine-2')).toMatchObject({ admitted: false, reason: 'full' });
    await store.close();
    const reopened = open(dir);
    expect(await ask(reopened, 'mine-3')).toMatchObject({ admitted: false, reason: 'full' });
    expect((await reopened.gatewayState(gateway)).used).toBe(3);
    await reopened.close();
    rmSync(dir, { recursive: true, force: true });
  });
});
