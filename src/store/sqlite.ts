// The embedded store: one SQLite file in WAL mode; every change is one IMMEDIATE transaction,
// so concurrent processes serialise on the file lock and a killed process rolls back.
import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { ClawError, UnavailableError } from '../errors.js';
import { decide, effectiveWindow, type AdmissionWindow } from '../limiter/admission.js';
import { waitBucketName, type Gateway } from '../limiter/types.js';
import { priorities } from '../priority.js';
import { openDatabase, storeFault, type SqliteConnection, type SqliteStatement } from './sqlite-driver.js';
import type { AdmitRequest, AdmitResult, BlockInfo, CacheEntry, GatewayState, LeaseHolder, RunRecord, Store } from './types.js';
import { activeBlock, blockEnd, legacyOrigin, storedInfo, type StoredBlock } from './blocks.js';
import { maxBlockMs } from '../limiter/backoff.js';
import { currentBoot, monotonicMs, timeline } from './clock.js';

// 2: blocks say who set them and why (reason, origin, message, set_at); the clock is anchored on the
// monotonic clock (meta clock_boot, clock_mono, clock_base); indexes for bounded growth (runs pruned
// by time, lastRuns per agent). A version 1 store is upgraded in place, and the upgrade is
// idempotent: an older claw that sets user_version back to 1 is harmless.
// 3: how many admissions each gateway holds, as meta 'admissions:<gateway>', kept by triggers (so
// every writer, an older claw included, keeps it right) and recomputed by every upgrade. In meta
// because every write rewrites meta's page anyway (the clock): the count costs no page of its own.
const schemaVersion = 3;
const blockColumns: [string, string][] = [
  ['reason', 'text'],
  ['origin', 'text'],
  ['message', 'text'],
  ['set_at', 'integer'],
];
// waiters.pid is no longer written or read (nullable); it stays so a state file an older claw shares still opens.
const schema = `
create table if not exists meta (key text primary key, value integer not null);
create table if not exists admissions (id text primary key, gateway text not null, at integer not null, priority integer not null);
create index if not exists admissions_by_gateway on admissions (gateway, at);
create table if not exists waiters (seq integer primary key autoincrement, id text not null unique, gateway text not null,
  priority integer not null, lease_until integer not null, pid integer);
create index if not exists waiters_by_gateway on waiters (gateway, priority, seq);
create table if not exists blocks (gateway text primary key, until integer not null);
create table if not exists counters (scope text not null, name text not null, value integer not null, primary key (scope, name));
create table if not exists cache (key text primary key, category text not null, value text not null, stored_at integer not null,
  expires_at integer not null, keep_until integer not null);
create table if not exists leases (name text primary key, owner text not null, expires_at integer not null);
create table if not exists state (key text primary key, value text not null);
create table if not exists runs (id integer primary key autoincrement, agent text not null, started_at integer not null,
  ended_at integer not null, outcome text not null, detail text not null);
create index if not exists runs_by_agent on runs (agent, started_at);
`;
const admissionSchema = `
create trigger if not exists admission_count_insert after insert on admissions begin
  insert into meta (key, value) values ('admissions:' || new.gateway, 1) on conflict (key) do update set value = value + 1;
end;
create trigger if not exists admission_count_delete after delete on admissions begin
  update meta set value = value - 1 where key = 'admissions:' || old.gateway;
end;
create trigger if not exists admission_count_move after update of gateway on admissions begin
  update meta set value = value - 1 where key = 'admissions:' || old.gateway;
  insert into meta (key, value) values ('admissions:' || new.gateway, 1) on conflict (key) do update set value = value + 1;
end;
`;
const growthSchema = `
create index if not exists runs_by_time on runs (started_at);
create index if not exists cache_by_keep on cache (keep_until);
`;

/**
 * Expired admissions are deleted once this many have gathered (until then they are counted, and
 * skipped by every read): one delete of 32 neighbouring rows rewrites a few pages, 32 deletes of one
 * row rewrite three pages each.
 */
const admissionPruneEvery = 32;
/** Expired admissions deleted by one admission at most: a long-idle busy gateway is cleared over a few. */
const admissionPruneBatch = 1000;
/** Pruning runs at most this often per store, so most heartbeats pay one indexed read for it. */
const pruneEveryMs = 60 * 60_000;
/** Rows deleted per transaction: short transactions keep other processes' waits short. */
const pruneBatch = 2000;
/** One prune stops after this long and resumes at the next write: a year's backlog never stalls a heartbeat. */
const pruneBudgetMs = 200;
const defaultRunRetentionMs = 30 * 86_400_000;

export interface SqliteStoreOptions {
  dir: string;
  clock: () => number;
  /** Test hook: hold every admission transaction open this long (to kill a process inside one). */
  holdTransactionMs?: number;
  onHold?: () => void;
  /** Test hook: the host's monotonic clock in ms (default CLOCK_MONOTONIC), to drive the timeline exactly. */
  monotonic?: () => number;
  note?: string;
  /** Heartbeat run records older than this are deleted (runs.retention; default 30 days). */
  runRetentionMs?: number;
  /** Where the SQLite driver's test hooks (CLAW_SQLITE_DRIVER, CLAW_TEST_SQLITE_VERSION) are read. */
  env?: Record<string, string | undefined>;
}

export interface PruneReport {
  runs: number;
  cache: number;
  leases: number;
  /** False when the time budget ran out with old rows left (the next write goes on). */
  complete: boolean;
}

const lockWaitMs = 10_000;

/**
 * SQLite's busy timeout covers waiting for a lock, but not every SQLITE_BUSY: switching a new file
 * to WAL, or reading while another process recovers the WAL index, fails at once. Those are retried
 * here for as long as the busy timeout would have waited.
 */
function retryWhileBusy<T>(fn: () => T): T {
  const deadline = Date.now() + lockWaitMs;
  for (;;) {
    try {
      return fn();
    } catch (err) {
      const code = (err as { code?: string }).code ?? '';
      if (!code.startsWith('SQLITE_BUSY') || Date.now() > deadline) throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5 + Math.random() * 20);
    }
  }
}

function isCorruption(err: unknown): boolean {
  const code = (err as { code?: string }).code;
  return code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT' || (typeof code === 'string' && code.startsWith('SQLITE_CORRUPT'));
}

export class SqliteStore implements Store {
  readonly kind = 'sqlite' as const;
  readonly location: string;
  readonly note?: string;
  private readonly db: SqliteConnection;
  private readonly dir: string;
  private readonly clock: () => number;
  private readonly holdMs: number;
  private readonly onHold: (() => void) | undefined;
  private readonly runRetentionMs: number;
  private readonly monotonic: () => number;

  constructor(options: SqliteStoreOptions) {
    this.clock = options.clock;
    this.runRetentionMs = options.runRetentionMs ?? defaultRunRetentionMs;
    this.holdMs = options.holdTransactionMs ?? 0;
    this.onHold = options.onHold;
    this.monotonic = options.monotonic ?? monotonicMs;
    if (options.note) this.note = options.note;
    this.dir = options.dir;
    const file = join(options.dir, 'claw.db');
    this.location = file;
    try {
      mkdirSync(options.dir, { recursive: true, mode: 0o700 });
      // Create the file ourselves so it is 0600; SQLite gives its -wal and -shm files the same mode.
      if (!existsSync(file)) closeSync(openSync(file, 'a', 0o600));
      this.db = openDatabase(file, { timeoutMs: lockWaitMs, ...(options.env ? { env: options.env } : {}) });
      retryWhileBusy(() => {
        if (this.db.pragma('user_version', { simple: true }) !== schemaVersion) this.migrate();
      });
      // A setting, not a query: exec() prepares no statement for it.
      this.db.exec('pragma synchronous = NORMAL');
    } catch (err) {
      throw this.storeError(err);
    }
  }

  private readonly statements = new Map<string, SqliteStatement>();

  /** Each SQL text is compiled once per process: status alone runs some of them dozens of times. */
  private stmt(sql: string): SqliteStatement {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.statements.set(sql, statement);
    }
    return statement;
  }

  private migrate(): void {
    if (this.db.pragma('journal_mode', { simple: true }) !== 'wal') this.db.pragma('journal_mode = WAL');
    this.db
      .transaction(() => {
        this.db.exec(schema);
        const columns = new Set((this.db.prepare(`select name from pragma_table_info('blocks')`).all() as { name: string }[]).map((c) => c.name));
        for (const [name, type] of blockColumns) if (!columns.has(name)) this.db.exec(`alter table blocks add column ${name} ${type}`);
        this.db.exec(growthSchema);
        this.db.exec(admissionSchema);
        this.db.exec(
          `delete from meta where key like 'admissions:%';
         insert into meta (key, value) select 'admissions:' || gateway, count(*) from admissions group by gateway`,
        );
        this.db.pragma(`user_version = ${schemaVersion}`);
      })
      .immediate();
  }

  private storeError(err: unknown): Error {
    if (err instanceof ClawError) return err;
    if (isCorruption(err)) {
      return new UnavailableError(
        `state store ${this.location} is not a valid SQLite database (${(err as Error).message}); ` +
          `stop claw processes, move it aside (mv ${this.location} ${this.location}.broken) and claw will start a new one`,
      );
    }
    const fault = storeFault(err, this.dir, this.location);
    if (fault) return fault;
    if (((err as { code?: string }).code ?? '').startsWith('SQLITE_BUSY')) {
      return new UnavailableError(`state store ${this.location} stayed locked for 10s; another process holds it (${(err as Error).message})`);
    }
    return err instanceof Error ? err : new Error(String(err));
  }

  /**
   * Runs `fn` in one IMMEDIATE transaction, with the store clock read inside it. Pending tallies are
   * committed in the same transaction: an idle heartbeat's three cache hits cost no write of their own.
   */
  private write<T>(fn: (now: number) => T): T {
    const tallies = [...this.tallies.values()];
    this.tallies.clear();
    try {
      return retryWhileBusy(() =>
        this.db
          .transaction(() => {
            const now = this.advanceClock();
            for (const t of tallies) this.bump(t.scope, t.name, t.by);
            return fn(now);
          })
          .immediate(),
      );
    } catch (err) {
      throw this.storeError(err);
    }
  }

  private read<T>(fn: () => T): T {
    try {
      return retryWhileBusy(fn);
    } catch (err) {
      throw this.storeError(err);
    }
  }

  /** The store's timeline (see clock.ts): anchored once per boot, then the monotonic clock. */
  private timeline() {
    const rows = this.stmt(`select key, value from meta where key in ('clock_high', 'clock_boot', 'clock_mono', 'clock_base')`).all() as {
      key: string;
      value: number;
    }[];
    const m = Object.fromEntries(rows.map((r) => [r.key, r.value])) as Record<string, number | undefined>;
    return timeline(
      { ...(m.clock_high !== undefined ? { high: m.clock_high } : {}), anchor: { boot: m.clock_boot, mono: m.clock_mono, base: m.clock_base } },
      { wall: this.clock(), mono: this.monotonic(), boot: currentBoot() },
    );
  }

  /** The store clock inside a write: saves a new anchor when one is needed, and the high mark. */
  private advanceClock(): number {
    const { now, anchor } = this.timeline();
    const set = this.stmt(`insert into meta (key, value) values (?, ?) on conflict (key) do update set value = excluded.value`);
    if (anchor) {
      set.run('clock_boot', anchor.boot);
      set.run('clock_mono', anchor.mono);
      set.run('clock_base', anchor.base);
      // A new timeline (first use, a reboot, an old store's absurd clock): nothing stored may lie in
      // its future, or it would hold a slot or a lease for longer than it should.
      this.stmt(`update admissions set at = ? where at > ?`).run(now, now);
      this.stmt(`update waiters set lease_until = ? where lease_until > ?`).run(now, now + 60_000);
      this.stmt(`update leases set expires_at = ? where expires_at > ?`).run(now + maxBlockMs, now + maxBlockMs);
    }
    set.run('clock_high', now);
    return now;
  }

  /** Reading the clock needs no write. */
  private readNow(): number {
    return this.timeline().now;
  }

  async now(): Promise<number> {
    return this.read(() => this.readNow());
  }

  /** The oldest admissions in the window, limit + 1 of them (for status and dry runs, not for admission). */
  private windowTimes(gateway: Gateway, now: number): number[] {
    const rows = this.stmt(`select at from admissions where gateway = ? and at > ? order by at limit ?`).all(
      gateway.name,
      now - effectiveWindow(gateway),
      Number.isFinite(gateway.limit) ? gateway.limit + 1 : -1,
    ) as { at: number }[];
    return rows.map((r) => r.at);
  }

  /**
   * The gateway's admissions as decide() reads them, from the index: `used` (the counter) answers
   * the window's count; a count of another span stops at `atMost`; the n-th time is found from
   * whichever end of the window is nearer. Nothing is loaded that the decision does not ask for.
   */
  private admissionWindow(gateway: string, since: number, used: number): AdmissionWindow {
    return {
      count: (after, atMost = Infinity) =>
        after === since
          ? Math.min(used, atMost)
          : (
              this.stmt(`select count(*) n from (select 1 from admissions where gateway = ? and at > ? order by at desc limit ?)`).get(
                gateway,
                after,
                Number.isFinite(atMost) ? atMost : -1,
              ) as { n: number }
            ).n,
      nth: (after, i) => {
        const row =
          after === since && i >= used / 2
            ? this.stmt(`select at from admissions where gateway = ? and at > ? order by at desc limit 1 offset ?`).get(gateway, after, used - 1 - i)
            : this.stmt(`select at from admissions where gateway = ? and at > ? order by at limit 1 offset ?`).get(gateway, after, i);
        return (row as { at: number }).at;
      },
    };
  }

  /**
   * One IMMEDIATE transaction: expired admissions and waiters go, a retried request finds the
   * admission it already has, then decide() on the counter and at most three indexed reads; an
   * admitted request is inserted and counted (admitted, and its wait in the histogram) in the same
   * transaction. Its cost does not depend on the limit.
   */
  async admit(request: AdmitRequest): Promise<AdmitResult> {
    const { gateway, priority, waiterId } = request;
    const win = effectiveWindow(gateway);
    return this.write((now) => {
      if (this.holdMs > 0) {
        this.onHold?.();
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, this.holdMs);
      }
      const since = now - win;
      let expired = (
        this.stmt(`select count(*) n from (select 1 from admissions where gateway = ? and at <= ? limit ${admissionPruneBatch})`).get(gateway.name, since) as {
          n: number;
        }
      ).n;
      if (expired >= admissionPruneEvery) {
        expired -= this.stmt(
          `delete from admissions where rowid in (select rowid from admissions where gateway = ? and at <= ? order by at limit ${admissionPruneBatch})`,
        ).run(gateway.name, since).changes;
      }
      // A stamp in the future (written by an older claw on another timeline) counts as made now.
      this.stmt(`update admissions set at = ? where gateway = ? and at > ?`).run(now, gateway.name, now);
      this.stmt(`delete from waiters where lease_until < ?`).run(now);
      // The waiter id is the admission id: asking again after an admission finds it, not a second one.
      // Waiters ahead: every live one of a higher priority, and of this priority those that came first
      // (all of them when this request is not queued yet).
      const state = this.stmt(
        `select exists (select 1 from admissions where id = ?) admitted,
           (select seq from waiters where id = ?) seq,
           (select count(*) from waiters where gateway = ? and id != ?
              and (priority < ? or (priority = ? and seq < coalesce((select seq from waiters where id = ?), 9223372036854775807)))) ahead,
           coalesce((select value from meta where key = 'admissions:' || ?), 0) used,
           exists (select 1 from blocks where gateway = ?) hasBlock,
           (select until from blocks where gateway = ?) until,
           (select set_at from blocks where gateway = ?) setAt`,
      ).get(waiterId, waiterId, gateway.name, waiterId, priority, priority, waiterId, gateway.name, gateway.name, gateway.name, gateway.name) as {
        admitted: number;
        seq: number | null;
        ahead: number;
        used: number;
        hasBlock: number;
        until: unknown;
        setAt: unknown;
      };
      if (state.admitted) return { admitted: true, admissionId: waiterId, now };
      const block: StoredBlock | undefined = state.hasBlock ? { until: state.until, setAt: state.setAt } : undefined;
      if (block && (block.setAt === null || block.setAt === undefined)) {
        // A block from an older claw: give it a start, so it ends by itself (see blockEnd).
        const until = blockEnd(block, now);
        block.until = until;
        block.setAt = now;
        this.stmt(`update blocks set until = ?, set_at = ?, reason = 'rate_limited', origin = ? where gateway = ?`).run(until, now, legacyOrigin, gateway.name);
      }
      // The counter holds every row of the gateway: those in the window, and the expired ones not
      // deleted yet, counted above (up to a batch: past it, the window is counted from the index).
      const used =
        expired < admissionPruneBatch
          ? state.used - expired
          : (this.stmt(`select count(*) n from admissions where gateway = ? and at > ?`).get(gateway.name, since) as { n: number }).n;
      const decision = decide(gateway, priority, now, {
        window: this.admissionWindow(gateway.name, since, used),
        ahead: state.ahead,
        blockedUntil: block ? blockEnd(block, now) : 0,
      });
      if (decision.admit) {
        this.stmt(`insert into admissions (id, gateway, at, priority) values (?, ?, ?, ?)`).run(waiterId, gateway.name, now, priority);
        if (state.seq !== null) this.stmt(`delete from waiters where id = ?`).run(waiterId);
        if (request.waitedMs !== undefined) {
          this.stmt(
            `insert into counters (scope, name, value) values (?, 'admitted', 1), (?, ?, 1)
             on conflict (scope, name) do update set value = value + excluded.value`,
          ).run(gateway.name, gateway.name, waitBucketName(request.waitedMs));
        } else {
          this.bump(gateway.name, 'admitted', 1);
        }
        return { admitted: true, admissionId: waiterId, now };
      }
      if (request.queue) {
        this.stmt(
          `insert into waiters (id, gateway, priority, lease_until) values (?, ?, ?, ?)
           on conflict (id) do update set lease_until = excluded.lease_until`,
        ).run(waiterId, gateway.name, priority, now + request.leaseMs);
      }
      const { admit: _admit, ...rest } = decision;
      return { admitted: false, now, ahead: state.ahead, ...rest };
    });
  }

  async markSent(gateway: Gateway, admissionId: string): Promise<void> {
    this.write((now) => {
      this.stmt(`update admissions set at = max(at, ?) where id = ? and gateway = ?`).run(now, admissionId, gateway.name);
    });
  }

  async leaveQueue(_gateway: string, waiterId: string): Promise<void> {
    this.write(() => this.stmt(`delete from waiters where id = ?`).run(waiterId));
  }

  async blockUntil(gateway: string, until: number, info?: BlockInfo): Promise<void> {
    if (!Number.isFinite(until)) return;
    const text = storedInfo(info);
    this.write((now) => {
      const end = Math.round(Math.min(until, now + maxBlockMs));
      const current = this.stmt(`select until, set_at setAt from blocks where gateway = ?`).get(gateway) as StoredBlock | undefined;
      // Only ever later: a shorter Retry-After seen meanwhile does not cut a longer block short.
      if (end <= now || (current && blockEnd(current, now) >= end)) return;
      this.stmt(
        `insert into blocks (gateway, until, reason, origin, message, set_at) values (?, ?, ?, ?, ?, ?)
         on conflict (gateway) do update set until = excluded.until, reason = excluded.reason, origin = excluded.origin,
           message = excluded.message, set_at = excluded.set_at`,
      ).run(gateway, end, text.reason, text.origin, text.message, now);
    });
  }

  async clearBlock(gateway: string): Promise<boolean> {
    return this.write((now) => {
      const current = this.stmt(`select until, set_at setAt from blocks where gateway = ?`).get(gateway) as StoredBlock | undefined;
      this.stmt(`delete from blocks where gateway = ?`).run(gateway);
      return current !== undefined && blockEnd(current, now) > now;
    });
  }

  private bump(scope: string, name: string, by: number): void {
    this.stmt(`insert into counters (scope, name, value) values (?, ?, ?) on conflict (scope, name) do update set value = value + excluded.value`).run(
      scope,
      name,
      by,
    );
  }

  async count(scope: string, counter: string, by = 1): Promise<void> {
    this.write(() => this.bump(scope, counter, by));
  }

  /** Tallies not committed yet, by scope and counter: they ride on the next write (see write()). */
  private readonly tallies = new Map<string, { scope: string; name: string; by: number }>();

  tally(scope: string, counter: string, by = 1): void {
    const key = `${scope}\0${counter}`;
    const pending = this.tallies.get(key);
    if (pending) pending.by += by;
    else this.tallies.set(key, { scope, name: counter, by });
  }

  async gatewayState(gateway: Gateway): Promise<GatewayState> {
    return this.read(() => {
      const now = this.readNow();
      const waiters = Object.fromEntries(priorities.map((p) => [p, 0])) as GatewayState['waiters'];
      const rows = this.stmt(`select priority, count(*) n from waiters where gateway = ? and lease_until >= ? group by priority`).all(gateway.name, now) as {
        priority: number;
        n: number;
      }[];
      for (const row of rows) waiters[priorities[row.priority - 1]!] = row.n;
      const counters = this.countersOf(gateway.name);
      const stored = this.stmt(`select until, set_at setAt, reason, origin, message from blocks where gateway = ?`).get(gateway.name) as
        StoredBlock | undefined;
      const block = activeBlock(stored, now);
      // The counter less the expired rows not yet pruned (a read prunes nothing): no scan of the window.
      const used = (
        this.stmt(
          `select coalesce((select value from meta where key = 'admissions:' || ?), 0) - (select count(*) from admissions where gateway = ? and at <= ?) n`,
        ).get(gateway.name, gateway.name, now - effectiveWindow(gateway)) as { n: number }
      ).n;
      return { now, used, times: this.windowTimes(gateway, now), waiters, blockedUntil: block?.until ?? 0, ...(block ? { block } : {}), counters };
    });
  }

  private countersOf(scope: string): Record<string, number> {
    const counters: Record<string, number> = {};
    for (const row of this.stmt(`select name, value from counters where scope = ?`).all(scope) as { name: string; value: number }[]) {
      counters[row.name] = row.value;
    }
    return counters;
  }

  async counters(scope: string): Promise<Record<string, number>> {
    return this.read(() => this.countersOf(scope));
  }

  async knownGateways(): Promise<string[]> {
    return this.read(() =>
      (
        this.stmt(
          `select gateway from admissions union select gateway from blocks union select scope from counters where scope != 'cache' union select gateway from waiters`,
        ).all() as { gateway: string }[]
      ).map((r) => r.gateway),
    );
  }

  async cacheGet(key: string): Promise<(CacheEntry & { now: number }) | undefined> {
    return this.read(() => {
      const now = this.readNow();
      const row = this.stmt(`select key, category, value, stored_at, expires_at from cache where key = ? and keep_until > ?`).get(key, now) as
        { key: string; category: string; value: string; stored_at: number; expires_at: number } | undefined;
      return row && { key: row.key, category: row.category, value: row.value, storedAt: row.stored_at, expiresAt: row.expires_at, now };
    });
  }

  async cacheSet(entry: { key: string; category: string; value: string; ttlMs: number; keepMs: number }): Promise<number> {
    return this.write((now) => {
      this.stmt(`delete from cache where keep_until <= ?`).run(now);
      this.stmt(
        `insert into cache (key, category, value, stored_at, expires_at, keep_until) values (?, ?, ?, ?, ?, ?)
         on conflict (key) do update set category = excluded.category, value = excluded.value, stored_at = excluded.stored_at,
           expires_at = excluded.expires_at, keep_until = excluded.keep_until`,
      ).run(entry.key, entry.category, entry.value, now, now + entry.ttlMs, now + Math.max(entry.ttlMs, entry.keepMs));
      return now;
    });
  }

  async cacheClear(category?: string): Promise<number> {
    return this.write(() =>
      category === undefined ? this.stmt(`delete from cache`).run().changes : this.stmt(`delete from cache where category = ?`).run(category).changes,
    );
  }

  async cacheEntries(): Promise<Omit<CacheEntry, 'value'>[]> {
    return this.read(() =>
      (
        this.stmt(`select key, category, stored_at, expires_at from cache order by key`).all() as {
          key: string;
          category: string;
          stored_at: number;
          expires_at: number;
        }[]
      ).map((r) => ({ key: r.key, category: r.category, storedAt: r.stored_at, expiresAt: r.expires_at })),
    );
  }

  async acquireLease(name: string, owner: string, ttlMs: number): Promise<boolean> {
    return this.write((now) => {
      const row = this.stmt(`select owner, expires_at from leases where name = ?`).get(name) as { owner: string; expires_at: number } | undefined;
      if (row && row.owner !== owner && row.expires_at > now) return false;
      this.stmt(
        `insert into leases (name, owner, expires_at) values (?, ?, ?) on conflict (name) do update set owner = excluded.owner, expires_at = excluded.expires_at`,
      ).run(name, owner, now + ttlMs);
      return true;
    });
  }

  async releaseLease(name: string, owner: string): Promise<void> {
    this.write(() => this.stmt(`delete from leases where name = ? and owner = ?`).run(name, owner));
  }

  async leaseHolder(name: string): Promise<LeaseHolder | undefined> {
    return this.read(() => {
      const now = this.readNow();
      const row = this.stmt(`select owner, expires_at from leases where name = ? and expires_at > ?`).get(name, now) as
        { owner: string; expires_at: number } | undefined;
      return row && { owner: row.owner, expiresAt: row.expires_at };
    });
  }

  async leaseHolders(names: readonly string[]): Promise<(LeaseHolder | undefined)[]> {
    return this.read(() => {
      const rows = this.stmt(`select name, owner, expires_at from leases where expires_at > ? and name in (select value from json_each(?))`).all(
        this.readNow(),
        JSON.stringify(names),
      ) as { name: string; owner: string; expires_at: number }[];
      const held = new Map(rows.map((r) => [r.name, { owner: r.owner, expiresAt: r.expires_at }]));
      return names.map((name) => held.get(name));
    });
  }

  async stateGet(key: string): Promise<string | undefined> {
    return this.read(() => (this.stmt(`select value from state where key = ?`).get(key) as { value: string } | undefined)?.value);
  }

  async stateGetMany(keys: readonly string[]): Promise<(string | undefined)[]> {
    return this.read(() => {
      const rows = this.stmt(`select key, value from state where key in (select value from json_each(?))`).all(JSON.stringify(keys)) as {
        key: string;
        value: string;
      }[];
      const values = new Map(rows.map((r) => [r.key, r.value]));
      return keys.map((key) => values.get(key));
    });
  }

  async stateSet(key: string, value: string): Promise<void> {
    this.write(() => this.stmt(`insert into state (key, value) values (?, ?) on conflict (key) do update set value = excluded.value`).run(key, value));
  }

  async saveRun(run: RunRecord, release?: { lease: string; owner: string }): Promise<void> {
    const due = this.write(() => {
      if (release) this.stmt(`delete from leases where name = ? and owner = ?`).run(release.lease, release.owner);
      this.stmt(`insert into runs (agent, started_at, ended_at, outcome, detail) values (?, ?, ?, ?, ?)`).run(
        run.agent,
        run.startedAt,
        run.endedAt,
        run.outcome,
        JSON.stringify(run.detail),
      );
      // Runs are stamped by the heartbeats' wall clocks, so their retention is judged on that clock
      // too (the store's timeline is immune to clock steps and may drift from it).
      const last = this.stmt(`select value from meta where key = 'pruned_at'`).get() as { value: number } | undefined;
      return !last || Math.abs(run.startedAt - last.value) >= pruneEveryMs;
    });
    if (due) this.prune(pruneBudgetMs, run.startedAt);
  }

  /**
   * Deletes run records older than the retention (before `runsNow`, on the runs' own clock), cache
   * entries past their keep time and leases expired for an hour, in short batches within a time
   * budget; records when it finished, so the next prune is an hour away. Called by saveRun at most
   * hourly; exposed for tests and benches.
   */
  prune(budgetMs = pruneBudgetMs, runsNow?: number): PruneReport {
    const started = Date.now();
    const report: PruneReport = { runs: 0, cache: 0, leases: 0, complete: false };
    for (;;) {
      const step = this.write((now) => {
        const reference = runsNow ?? now;
        const runs = this.stmt(`delete from runs where id in (select id from runs where started_at < ? order by started_at limit ?)`).run(
          reference - this.runRetentionMs,
          pruneBatch,
        ).changes;
        const cache = this.stmt(`delete from cache where key in (select key from cache where keep_until <= ? limit ?)`).run(now, pruneBatch).changes;
        const leases = this.stmt(`delete from leases where expires_at < ?`).run(now - pruneEveryMs).changes;
        const done = runs < pruneBatch && cache < pruneBatch;
        if (done) {
          this.stmt(`insert into meta (key, value) values ('pruned_at', ?) on conflict (key) do update set value = excluded.value`).run(reference);
        }
        return { runs, cache, leases, done };
      });
      report.runs += step.runs;
      report.cache += step.cache;
      report.leases += step.leases;
      if (step.done) return { ...report, complete: true };
      if (Date.now() - started >= budgetMs) return report;
    }
  }

  async lastRuns(limitPerAgent: number): Promise<RunRecord[]> {
    return this.read(() => {
      // Distinct agents by skipping through the index (one seek per agent, not a scan of every run),
      // then each agent's latest runs from the same index.
      const agents = this.stmt(
        `with recursive a(agent) as (select min(agent) from runs union all select (select min(agent) from runs where agent > a.agent) from a where a.agent is not null)
         select agent from a where agent is not null`,
      ).all() as { agent: string }[];
      const latest = this.stmt(`select agent, started_at, ended_at, outcome, detail from runs where agent = ? order by started_at desc, id desc limit ?`);
      return agents.flatMap(({ agent }) =>
        (latest.all(agent, limitPerAgent) as { agent: string; started_at: number; ended_at: number; outcome: string; detail: string }[]).map((r) => ({
          agent: r.agent,
          startedAt: r.started_at,
          endedAt: r.ended_at,
          outcome: r.outcome,
          detail: JSON.parse(r.detail),
        })),
      );
    });
  }

  async close(): Promise<void> {
    try {
      if (this.tallies.size > 0) this.write(() => undefined);
    } finally {
      this.db.close();
    }
  }
}
