// The multi-host store: shared state in Redis, every change one Lua script (loaded once, then run
// by SHA), Redis TIME the only clock. Connects lazily and never keeps the process alive.
import Redis from 'ioredis';
import { StoreUnreachableError, UnavailableError } from '../errors.js';
import { burstSpan, capacityFor, decide, effectiveWindow, type AdmissionWindow } from '../limiter/admission.js';
import { waitBucketName, type Gateway } from '../limiter/types.js';
import { priorities } from '../priority.js';
import * as scripts from './redis-scripts.js';
import { redactStoreUrl as redactUrl } from '../redact.js';
import type { AdmitRequest, AdmitResult, BlockInfo, CacheEntry, GatewayState, LeaseHolder, RunRecord, Store } from './types.js';
import { activeBlock, storedInfo } from './blocks.js';

type Commands = Record<keyof typeof scripts, (...args: (string | number)[]) => Promise<unknown>>;

export interface RedisStoreOptions {
  url: string;
  prefix: string;
  connectTimeoutMs?: number;
  /** Heartbeat run records older than this are trimmed (runs.retention; default 30 days). */
  runRetentionMs?: number;
  /**
   * Test hook: the store's clock in place of the server's TIME (passed to every script as its last
   * ARGV). Never set outside tests: openStore has no way to set it.
   */
  testClock?: () => number;
}

export class RedisStore implements Store {
  readonly kind = 'redis' as const;
  readonly location: string;
  private readonly redis: Redis;
  private readonly prefix: string;
  private readonly run: Commands;
  private readonly runRetentionMs: number;

  private constructor(redis: Redis, options: RedisStoreOptions) {
    this.redis = redis;
    this.prefix = options.prefix;
    this.runRetentionMs = options.runRetentionMs ?? 30 * 86_400_000;
    this.location = `${redactUrl(options.url)} (prefix ${options.prefix})`;
    for (const [name, lua] of Object.entries(scripts)) redis.defineCommand(`claw_${name}`, { numberOfKeys: 0, lua });
    const commands = redis as unknown as Record<string, (...args: (string | number)[]) => Promise<unknown>>;
    const testClock = options.testClock;
    const clockArg = testClock ? () => String(Math.round(testClock())) : () => '';
    this.run = Object.fromEntries(
      Object.keys(scripts).map((name) => [
        name,
        (...args: (string | number)[]) => this.guard(() => commands[`claw_${name}`]!(this.prefix, ...args, clockArg())),
      ]),
    ) as Commands;
  }

  static async connect(options: RedisStoreOptions): Promise<RedisStore> {
    let connected = false;
    let lastError: Error | undefined;
    const redis = new Redis(options.url, {
      lazyConnect: true,
      // Fail fast while disconnected; callers that wait (the limiter) retry on their own schedule.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: options.connectTimeoutMs ?? 2000,
      // ioredis waits this long for a closed socket to say so; a refused one never does.
      disconnectTimeout: 100,
      // No retries for the first connection (a clear error at once); after it, reconnect in the background.
      retryStrategy: (attempt) => (connected ? Math.min(attempt * 100, 1000) : null),
    });
    redis.on('error', (err: Error) => {
      lastError = err; // reported by the command that needed the connection
    });
    try {
      await redis.connect();
      connected = true;
    } catch (err) {
      redis.disconnect();
      const reason = (lastError ?? (err as Error)).message;
      throw new UnavailableError(
        `cannot reach the Redis store at ${redactUrl(options.url)}: ${reason}; start Redis or set \`claw config set storeFallback local\``,
      );
    }
    return new RedisStore(redis, options);
  }

  private async guard<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      const message = (err as Error).message ?? String(err);
      // ioredis' words for a connection that went away; a command in flight when it drops fails with
      // "Reached the max retries per request limit (which is 0)" (maxRetriesPerRequest: 0 above).
      if (
        /Connection is closed|Stream isn't writeable|ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|LOADING|connect|max retries per request|Command timed out/i.test(
          message,
        )
      ) {
        throw new StoreUnreachableError(`lost the Redis store at ${this.location}: ${message}`);
      }
      throw err;
    }
  }

  private key(name: string): string {
    return `${this.prefix}${name}`;
  }

  async now(): Promise<number> {
    return Number(await this.run.now());
  }

  /**
   * One script: it admits or not (the yes/no of decide(), on figures computed here from the gateway)
   * and, when not, returns the few figures decide() reads for the rest, so the reason, the wake time
   * and the estimate come from decide() itself, as in the SQLite store.
   */
  async admit(request: AdmitRequest): Promise<AdmitResult> {
    const g = request.gateway;
    const win = effectiveWindow(g);
    const span = burstSpan(g);
    const reply = (await this.run.admit(
      g.name,
      win,
      capacityFor(g, request.priority),
      g.burst ?? 0,
      span ?? 0,
      request.priority,
      request.waiterId,
      request.leaseMs,
      request.queue ? 1 : 0,
      request.waitedMs === undefined ? '' : waitBucketName(request.waitedMs),
    )) as [number, number, number?, number?, number?, number?, string?, string?, string?];
    const now = Number(reply[1]);
    if (reply[0] === 1) return { admitted: true, admissionId: request.waiterId, now };
    const [ahead, used, inSpan, blockedUntil] = [Number(reply[2]), Number(reply[3]), Number(reply[4]), Number(reply[5])];
    const [oldest, atNeeded, oldestInSpan] = [reply[6], reply[7], reply[8]];
    const since = now - win;
    const needed = used - capacityFor(g, request.priority) + ahead;
    const read = (value: string | undefined, what: string) => {
      if (value === undefined || value === '') throw new Error(`the admission script did not read ${what} (a bug in claw)`);
      return Number(value);
    };
    const window: AdmissionWindow = {
      count: (after, atMost = Infinity) => {
        if (after === since) return Math.min(used, atMost);
        if (span !== undefined && after === now - span) return Math.min(inSpan, atMost);
        throw new Error(`the admission script did not count the admissions after ${after} (a bug in claw)`);
      },
      nth: (after, i) => {
        if (after === since && i === 0) return read(oldest, 'the oldest admission');
        if (after === since && i === needed) return read(atNeeded, `admission ${i}`);
        if (span !== undefined && after === now - span && i === 0) return read(oldestInSpan, 'the oldest admission in the burst span');
        throw new Error(`the admission script did not read admission ${i} after ${after} (a bug in claw)`);
      },
    };
    const decision = decide(g, request.priority, now, { window, ahead, blockedUntil });
    if (decision.admit) throw new Error(`the admission script refused what decide() admits on ${g.name} (a bug in claw)`);
    const { admit: _admit, ...rest } = decision;
    return { admitted: false, now, ahead, ...rest };
  }

  async markSent(gateway: Gateway, admissionId: string): Promise<void> {
    await this.run.markSent(gateway.name, admissionId);
  }

  async leaveQueue(gateway: string, waiterId: string): Promise<void> {
    await this.run.leaveQueue(gateway, waiterId);
  }

  async blockUntil(gateway: string, until: number, info?: BlockInfo): Promise<void> {
    if (!Number.isFinite(until)) return;
    const text = storedInfo(info);
    // Lua reads numbers as doubles: anything past 2^53 is cut to the 24 h bound by the script anyway.
    await this.run.blockUntil(gateway, Math.round(Math.min(until, Number.MAX_SAFE_INTEGER)), text.reason, text.origin, text.message ?? '');
  }

  async clearBlock(gateway: string): Promise<boolean> {
    return Number(await this.run.clearBlock(gateway)) === 1;
  }

  async count(scope: string, counter: string, by = 1): Promise<void> {
    await this.run.count(scope, counter, by);
  }

  /** Tallies sent and not yet answered: close() waits for them. */
  private readonly tallying = new Set<Promise<void>>();

  tally(scope: string, counter: string, by = 1): void {
    // A statistic: sent without waiting, and a failure to count it is not the caller's failure.
    const sent = this.count(scope, counter, by).catch(() => undefined);
    this.tallying.add(sent);
    void sent.then(() => this.tallying.delete(sent));
  }

  async gatewayState(gateway: Gateway): Promise<GatewayState> {
    const max = Number.isFinite(gateway.limit) ? gateway.limit + 1 : 0;
    const [now, used, times, waiters, blocked, counterList, info] = (await this.run.gatewayState(gateway.name, effectiveWindow(gateway), max)) as [
      number,
      number,
      string[],
      number[],
      string,
      string[],
      string[],
    ];
    const block = activeBlock(
      { until: blocked, setAt: info[0] ? Number(info[0]) : undefined, reason: info[1], origin: info[2], message: info[3] },
      Number(now),
    );
    return {
      now: Number(now),
      used: Number(used),
      times: times.map(Number),
      waiters: Object.fromEntries(priorities.map((p, i) => [p, Number(waiters[i] ?? 0)])) as GatewayState['waiters'],
      blockedUntil: block?.until ?? 0,
      ...(block ? { block } : {}),
      counters: pairs(counterList),
    };
  }

  async counters(scope: string): Promise<Record<string, number>> {
    return pairs(await this.guard(() => this.redis.hgetall(this.key(`ctr:${scope}`)).then((h) => Object.entries(h).flat())));
  }

  async knownGateways(): Promise<string[]> {
    return this.guard(() => this.redis.smembers(this.key('gateways')));
  }

  async cacheGet(key: string): Promise<(CacheEntry & { now: number }) | undefined> {
    const reply = (await this.run.cacheGet(key)) as [number, string?, string?, number?, number?];
    if (reply.length < 5) return undefined;
    return { key, now: Number(reply[0]), category: reply[1]!, value: reply[2]!, storedAt: Number(reply[3]), expiresAt: Number(reply[4]) };
  }

  async cacheSet(entry: { key: string; category: string; value: string; ttlMs: number; keepMs: number }): Promise<number> {
    return Number(await this.run.cacheSet(entry.key, entry.category, entry.value, entry.ttlMs, entry.keepMs));
  }

  async cacheClear(category?: string): Promise<number> {
    return Number(await this.run.cacheClear(category ?? ''));
  }

  async cacheEntries(): Promise<Omit<CacheEntry, 'value'>[]> {
    const flat = (await this.run.cacheEntries()) as string[];
    const entries: Omit<CacheEntry, 'value'>[] = [];
    for (let i = 0; i < flat.length; i += 4) {
      entries.push({ key: flat[i]!, category: flat[i + 1]!, storedAt: Number(flat[i + 2]), expiresAt: Number(flat[i + 3]) });
    }
    return entries.sort((a, b) => a.key.localeCompare(b.key));
  }

  async acquireLease(name: string, owner: string, ttlMs: number): Promise<boolean> {
    return Number(await this.run.acquireLease(name, owner, ttlMs)) === 1;
  }

  async releaseLease(name: string, owner: string): Promise<void> {
    await this.run.releaseLease(name, owner);
  }

  async leaseHolder(name: string): Promise<LeaseHolder | undefined> {
    const reply = (await this.run.leaseHolder(name)) as [string?, number?];
    return reply.length === 2 ? { owner: reply[0]!, expiresAt: Number(reply[1]) } : undefined;
  }

  /** One script call per name, sent together: one round trip's wait for them all. */
  async leaseHolders(names: readonly string[]): Promise<(LeaseHolder | undefined)[]> {
    return Promise.all(names.map((name) => this.leaseHolder(name)));
  }

  async stateGet(key: string): Promise<string | undefined> {
    return (await this.guard(() => this.redis.get(this.key(`state:${key}`)))) ?? undefined;
  }

  async stateGetMany(keys: readonly string[]): Promise<(string | undefined)[]> {
    if (keys.length === 0) return [];
    const values = await this.guard(() => this.redis.mget(keys.map((key) => this.key(`state:${key}`))));
    return values.map((value) => value ?? undefined);
  }

  async stateSet(key: string, value: string): Promise<void> {
    await this.run.stateSet(key, value);
  }

  async saveRun(run: RunRecord, release?: { lease: string; owner: string }): Promise<void> {
    await this.run.saveRun(run.agent, JSON.stringify(run), run.startedAt, this.runRetentionMs);
    if (release) await this.releaseLease(release.lease, release.owner);
  }

  async lastRuns(limitPerAgent: number): Promise<RunRecord[]> {
    return this.guard(async () => {
      const agents = (await this.redis.smembers(this.key('agents'))).sort();
      const lists = await Promise.all(agents.map((agent) => this.redis.lrange(this.key(`runs:${agent}`), 0, limitPerAgent - 1)));
      return lists.flat().map((json) => JSON.parse(json) as RunRecord);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.tallying);
    this.redis.disconnect();
  }
}

function pairs(list: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i < list.length; i += 2) out[list[i]!] = Number(list[i + 1]);
  return out;
}
