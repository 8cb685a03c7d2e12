// The embedded store: one SQLite file in WAL mode; every change is one IMMEDIATE transaction,
// so concurrent processes serialise on the file lock and a killed process rolls back.
import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { ClawError, UnavailableError } from '../errors.js';
import { decide, effectiveWindow } from '../limiter/admission.js';
import type { Gateway } from '../limiter/gateways.js';
import { priorities } from '../priority.js';
import { openDatabase, storeFault, type SqliteConnection, type SqliteStatement } from './sqlite-driver.js';
import type { AdmitRequest, AdmitResult, CacheEntry, GatewayState, RunRecord, Store } from './types.js';

const schemaVersion = 1;
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

export interface SqliteStoreOptions {
  dir: string;
  clock: () => number;
  /** Test hook: hold every admission transaction open this long (to kill a process inside one). */
  holdTransactionMs?: number;
  onHold?: () => void;
  note?: string;
  /** Where the SQLite driver's test hooks (CLAW_SQLITE_DRIVER, CLAW_TEST_SQLITE_VERSION) are read. */
  env?: Record<string, string | undefined>;
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

  constructor(options: SqliteStoreOptions) {
    this.clock = options.clock;
    this.holdMs = options.holdTransactionMs ?? 0;
    this.onHold = options.onHold;
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
      this.db.pragma('synchronous = NORMAL');
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
    this.db.transaction(() => {
      this.db.exec(schema);
      this.db.pragma(`user_version = ${schemaVersion}`);
    }).immediate();
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

  /** Runs `fn` in one IMMEDIATE transaction, with the store clock read inside it. */
  private write<T>(fn: (now: number) => T): T {
    try {
      return retryWhileBusy(() => this.db.transaction(() => fn(this.advanceClock())).immediate());
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

  /** max(local clock, highest time ever stored): a clock stepping back mints no capacity. */
  private advanceClock(): number {
    const row = this.stmt(`select value from meta where key = 'clock_high'`).get() as { value: number } | undefined;
    const now = Math.max(this.clock(), row?.value ?? 0);
    if (!row || now > row.value) {
      this.stmt(`insert into meta (key, value) values ('clock_high', ?) on conflict (key) do update set value = excluded.value`).run(now);
    }
    return now;
  }

  /** Reading the clock needs no write: only a transaction that changes state advances the mark. */
  private readNow(): number {
    const row = this.stmt(`select value from meta where key = 'clock_high'`).get() as { value: number } | undefined;
    return Math.max(this.clock(), row?.value ?? 0);
  }

  async now(): Promise<number> {
    return this.read(() => this.readNow());
  }

  /** The oldest admissions in the window: limit + 1 of them decide everything admission needs. */
  private windowTimes(gateway: Gateway, now: number): number[] {
    const rows = this.db
      .prepare(`select at from admissions where gateway = ? and at > ? order by at limit ?`)
      .all(gateway.name, now - effectiveWindow(gateway), Number.isFinite(gateway.limit) ? gateway.limit + 1 : -1) as { at: number }[];
    return rows.map((r) => r.at);
  }

  async admit(request: AdmitRequest): Promise<AdmitResult> {
    const { gateway, priority, waiterId } = request;
    return this.write((now) => {
      if (this.holdMs > 0) {
        this.onHold?.();
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, this.holdMs);
      }
      this.stmt(`delete from admissions where gateway = ? and at <= ?`).run(gateway.name, now - effectiveWindow(gateway));
      this.stmt(`delete from waiters where lease_until < ?`).run(now);
      // The waiter id is the admission id: asking again after an admission finds it, not a second one.
      if (this.stmt(`select 1 from admissions where id = ?`).get(waiterId)) return { admitted: true, admissionId: waiterId, now };
      const mine = this.stmt(`select seq from waiters where id = ?`).get(waiterId) as { seq: number } | undefined;
      const ahead = (
        mine
          ? this.stmt(`select count(*) n from waiters where gateway = ? and id != ? and (priority < ? or (priority = ? and seq < ?))`)
              .get(gateway.name, waiterId, priority, priority, mine.seq)
          : this.stmt(`select count(*) n from waiters where gateway = ? and priority <= ?`).get(gateway.name, priority)
      ) as { n: number };
      const block = this.stmt(`select until from blocks where gateway = ?`).get(gateway.name) as { until: number } | undefined;
      const decision = decide(gateway, priority, now, {
        times: this.windowTimes(gateway, now),
        ahead: ahead.n,
        blockedUntil: block?.until ?? 0,
      });
      if (decision.admit) {
        const admissionId = waiterId;
        this.stmt(`insert into admissions (id, gateway, at, priority) values (?, ?, ?, ?)`).run(admissionId, gateway.name, now, priority);
        this.stmt(`delete from waiters where id = ?`).run(waiterId);
        this.bump(gateway.name, 'admitted', 1);
        return { admitted: true, admissionId, now };
      }
      if (request.queue) {
        this.stmt(
          `insert into waiters (id, gateway, priority, lease_until, pid) values (?, ?, ?, ?, ?)
           on conflict (id) do update set lease_until = excluded.lease_until`,
        ).run(waiterId, gateway.name, priority, now + request.leaseMs, process.pid);
      }
      const { admit: _admit, ...rest } = decision;
      return { admitted: false, now, ahead: ahead.n, ...rest };
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

  async blockUntil(gateway: string, until: number): Promise<void> {
    this.write(() =>
      this.db
        .prepare(`insert into blocks (gateway, until) values (?, ?) on conflict (gateway) do update set until = max(until, excluded.until)`)
        .run(gateway, until),
    );
  }

  private bump(scope: string, name: string, by: number): void {
    this.db
      .prepare(`insert into counters (scope, name, value) values (?, ?, ?) on conflict (scope, name) do update set value = value + excluded.value`)
      .run(scope, name, by);
  }

  async count(scope: string, counter: string, by = 1): Promise<void> {
    this.write(() => this.bump(scope, counter, by));
  }

  async gatewayState(gateway: Gateway): Promise<GatewayState> {
    return this.read(() => {
      const now = this.readNow();
      const waiters = Object.fromEntries(priorities.map((p) => [p, 0])) as GatewayState['waiters'];
      const rows = this.db
        .prepare(`select priority, count(*) n from waiters where gateway = ? and lease_until >= ? group by priority`)
        .all(gateway.name, now) as { priority: number; n: number }[];
      for (const row of rows) waiters[priorities[row.priority - 1]!] = row.n;
      const counters = this.countersOf(gateway.name);
      const block = this.stmt(`select until from blocks where gateway = ?`).get(gateway.name) as { until: number } | undefined;
      const used = (this.stmt(`select count(*) n from admissions where gateway = ? and at > ?`).get(gateway.name, now - effectiveWindow(gateway)) as { n: number }).n;
      return { now, used, times: this.windowTimes(gateway, now), waiters, blockedUntil: block?.until ?? 0, counters };
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
      (this.stmt(`select gateway from admissions union select gateway from blocks union select scope from counters where scope != 'cache' union select gateway from waiters`).all() as { gateway: string }[]).map(
        (r) => r.gateway,
      ),
    );
  }

  async cacheGet(key: string): Promise<(CacheEntry & { now: number }) | undefined> {
    const now = await this.now();
    return this.read(() => {
      const row = this.stmt(`select key, category, value, stored_at, expires_at from cache where key = ? and keep_until > ?`).get(key, now) as
        | { key: string; category: string; value: string; stored_at: number; expires_at: number }
        | undefined;
      return row && { key: row.key, category: row.category, value: row.value, storedAt: row.stored_at, expiresAt: row.expires_at, now };
    });
  }

  async cacheSet(entry: { key: string; category: string; value: string; ttlMs: number; keepMs: number }): Promise<number> {
    return this.write((now) => {
      this.stmt(`delete from cache where keep_until <= ?`).run(now);
      this.db
        .prepare(
          `insert into cache (key, category, value, stored_at, expires_at, keep_until) values (?, ?, ?, ?, ?, ?)
           on conflict (key) do update set category = excluded.category, value = excluded.value, stored_at = excluded.stored_at,
             expires_at = excluded.expires_at, keep_until = excluded.keep_until`,
        )
        .run(entry.key, entry.category, entry.value, now, now + entry.ttlMs, now + Math.max(entry.ttlMs, entry.keepMs));
      return now;
    });
  }

  async cacheClear(category?: string): Promise<number> {
    return this.write(() =>
      category === undefined
        ? this.stmt(`delete from cache`).run().changes
        : this.stmt(`delete from cache where category = ?`).run(category).changes,
    );
  }

  async cacheEntries(): Promise<Omit<CacheEntry, 'value'>[]> {
    return this.read(() =>
      (this.stmt(`select key, category, stored_at, expires_at from cache order by key`).all() as {
        key: string;
        category: string;
        stored_at: number;
        expires_at: number;
      }[]).map((r) => ({ key: r.key, category: r.category, storedAt: r.stored_at, expiresAt: r.expires_at })),
    );
  }

  async acquireLease(name: string, owner: string, ttlMs: number): Promise<boolean> {
    return this.write((now) => {
      const row = this.stmt(`select owner, expires_at from leases where name = ?`).get(name) as { owner: string; expires_at: number } | undefined;
      if (row && row.owner !== owner && row.expires_at > now) return false;
      this.db
        .prepare(`insert into leases (name, owner, expires_at) values (?, ?, ?) on conflict (name) do update set owner = excluded.owner, expires_at = excluded.expires_at`)
        .run(name, owner, now + ttlMs);
      return true;
    });
  }

  async releaseLease(name: string, owner: string): Promise<void> {
    this.write(() => this.stmt(`delete from leases where name = ? and owner = ?`).run(name, owner));
  }

  async leaseHolder(name: string): Promise<{ owner: string; expiresAt: number } | undefined> {
    const now = await this.now();
    return this.read(() => {
      const row = this.stmt(`select owner, expires_at from leases where name = ? and expires_at > ?`).get(name, now) as
        | { owner: string; expires_at: number }
        | undefined;
      return row && { owner: row.owner, expiresAt: row.expires_at };
    });
  }

  async stateGet(key: string): Promise<string | undefined> {
    return this.read(() => (this.stmt(`select value from state where key = ?`).get(key) as { value: string } | undefined)?.value);
  }

  async stateSet(key: string, value: string): Promise<void> {
    this.write(() =>
      this.stmt(`insert into state (key, value) values (?, ?) on conflict (key) do update set value = excluded.value`).run(key, value),
    );
  }

  async saveRun(run: RunRecord): Promise<void> {
    this.write(() =>
      this.db
        .prepare(`insert into runs (agent, started_at, ended_at, outcome, detail) values (?, ?, ?, ?, ?)`)
        .run(run.agent, run.startedAt, run.endedAt, run.outcome, JSON.stringify(run.detail)),
    );
  }

  async lastRuns(limitPerAgent: number): Promise<RunRecord[]> {
    return this.read(() =>
      (this.db
        .prepare(
          `select agent, started_at, ended_at, outcome, detail from (
             select *, row_number() over (partition by agent order by started_at desc, id desc) rn from runs
           ) where rn <= ? order by agent, started_at desc`,
        )
        .all(limitPerAgent) as { agent: string; started_at: number; ended_at: number; outcome: string; detail: string }[]).map((r) => ({
        agent: r.agent,
        startedAt: r.started_at,
        endedAt: r.ended_at,
        outcome: r.outcome,
        detail: JSON.parse(r.detail),
      })),
    );
  }

  async close(): Promise<void> {
    this.db.close();
  }
}
