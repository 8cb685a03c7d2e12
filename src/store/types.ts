// Where shared state lives. Every method is one atomic step in the store, so separate
// processes (and, with Redis, separate hosts) see one limit, one queue and one cache.
import type { Decision } from '../limiter/admission.js';
import type { Gateway, WaitBucketCounter } from '../limiter/types.js';
import type { PriorityName, PriorityRank } from '../priority.js';

export interface AdmitRequest {
  gateway: Gateway;
  priority: PriorityRank;
  /** Stable for one request while it waits; it keeps its place in the queue. */
  waiterId: string;
  /** A waiter not refreshed within this many ms stops blocking the others. */
  leaseMs: number;
  /** Register as a waiter when not admitted (false = just try once). */
  queue: boolean;
  /**
   * How long the request has waited so far (ms). When given, an admission also counts it in the
   * wait histogram (`wait_le_<ms>`), in the same atomic step.
   */
  waitedMs?: number;
}

export type AdmitResult =
  { admitted: true; admissionId: string; now: number } | ({ admitted: false; now: number; ahead: number } & Omit<Extract<Decision, { admit: false }>, 'admit'>);

export type CounterName =
  | 'admitted'
  | 'fallbacks'
  | 'dropped'
  | 'rateLimited'
  | 'retries'
  | 'cacheHits'
  | 'cacheMisses'
  | 'cacheStale'
  | WaitBucketCounter
  /** Tokens a proxied gateway's replies reported, in all and per agent. */
  | `tokens_${'prompt' | 'completion'}`
  | `tokens_${'prompt' | 'completion'}@${string}`;

export type BlockReason = 'rate_limited' | 'quota';

/** Who set a block and why: shown by `claw status`, never holding a secret. */
export interface BlockInfo {
  reason: BlockReason;
  /** Who saw it, e.g. "429 from nvidia via claw call (pid 123, host h)". */
  origin: string;
  /** A short upstream reason, secrets removed. */
  message?: string;
}

export interface GatewayBlock {
  until: number;
  reason: string;
  origin: string;
  message?: string;
  setAt: number;
}

/** Stored text is cut to this many characters. */
export const blockTextMax = 200;

export interface GatewayState {
  now: number;
  /** Admissions inside the effective window. */
  used: number;
  /** The oldest admission times inside the effective window (up to limit + 1), ascending. */
  times: number[];
  waiters: Record<PriorityName, number>;
  /** When the gateway's block ends (store clock); 0 when it is not blocked. */
  blockedUntil: number;
  /** The block in force, if any. */
  block?: GatewayBlock;
  counters: Record<string, number>;
}

export interface CacheEntry {
  key: string;
  category: string;
  value: string;
  storedAt: number;
  expiresAt: number;
}

export interface RunRecord {
  agent: string;
  startedAt: number;
  endedAt: number;
  outcome: string;
  detail: unknown;
}

// The store by concern, so code takes (and a test fakes) only the part it uses. SqliteStore and
// RedisStore implement all of it: Store.

/** The store's clock: never goes backwards and never stands still, whatever the local clock does. */
export interface StoreClock {
  now(): Promise<number>;
}

/** The shared limit: admissions, the waiting queue and blocks, per gateway. */
export interface LimitStore extends StoreClock {
  admit(request: AdmitRequest): Promise<AdmitResult>;
  /** Restarts an admission's window at the moment its request is actually sent. */
  markSent(gateway: Gateway, admissionId: string): Promise<void>;
  leaveQueue(gateway: string, waiterId: string): Promise<void>;
  /**
   * Every process backs off from this gateway until `until` (store clock; from an upstream 429 or a
   * quota). Only ever moves a block later; clamped to at most `maxBlockMs` (24 h) from now, and a
   * non-finite `until` is ignored.
   */
  blockUntil(gateway: string, until: number, info?: BlockInfo): Promise<void>;
  /** Removes the gateway's block; true when one was in force. */
  clearBlock(gateway: string): Promise<boolean>;
  gatewayState(gateway: Gateway): Promise<GatewayState>;
  /** Gateways the store has seen traffic for. */
  knownGateways(): Promise<string[]>;
}

export interface CounterStore {
  count(scope: string, counter: CounterName, by?: number): Promise<void>;
  /**
   * Adds to a statistic that may be lost if the process is killed first (cache hits and misses): it
   * is committed with the store's next write, or at close, instead of costing a write of its own.
   */
  tally(scope: string, counter: CounterName, by?: number): void;
  counters(scope: string): Promise<Record<string, number>>;
}

export interface CacheStore extends StoreClock {
  /** The entry with the store's clock at the read, so freshness is judged by one clock. */
  cacheGet(key: string): Promise<(CacheEntry & { now: number }) | undefined>;
  /** Stores at the store's clock: fresh for `ttlMs`, kept (for stale-if-error) for `keepMs`. Returns storedAt. */
  cacheSet(entry: { key: string; category: string; value: string; ttlMs: number; keepMs: number }): Promise<number>;
  cacheClear(category?: string): Promise<number>;
  cacheEntries(): Promise<Omit<CacheEntry, 'value'>[]>;
}

/** Who holds a lease, and until when (store time). */
export interface LeaseHolder {
  owner: string;
  expiresAt: number;
}

export interface LeaseStore {
  /** Takes the named lease if it is free, expired or already ours. */
  acquireLease(name: string, owner: string, ttlMs: number): Promise<boolean>;
  releaseLease(name: string, owner: string): Promise<void>;
  /** Who holds the named lease and until when, if anyone does. */
  leaseHolder(name: string): Promise<LeaseHolder | undefined>;
  /** leaseHolder of each name, in one read (status asks it of every agent's run lock). */
  leaseHolders(names: readonly string[]): Promise<(LeaseHolder | undefined)[]>;
}

/** Long-lived state documents (per-agent task memory): no TTL, not touched by `cache clear`. */
export interface StateStore {
  stateGet(key: string): Promise<string | undefined>;
  /** stateGet of each key, in one read. */
  stateGetMany(keys: readonly string[]): Promise<(string | undefined)[]>;
  stateSet(key: string, value: string): Promise<void>;
}

/** Heartbeat runs, for `claw status`. */
export interface RunStore {
  /** Records a run; with `release`, also lets go of that lease (the run's lock) in the same write. */
  saveRun(run: RunRecord, release?: { lease: string; owner: string }): Promise<void>;
  lastRuns(limitPerAgent: number): Promise<RunRecord[]>;
}

export interface Store extends LimitStore, CounterStore, CacheStore, LeaseStore, StateStore, RunStore {
  readonly kind: 'sqlite' | 'redis';
  /** Where the state is, safe to print (no secrets). */
  readonly location: string;
  /** Set when this is a fallback: why, and what that means for the limit. */
  readonly note?: string;
  close(): Promise<void>;
}
