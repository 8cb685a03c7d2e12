// Waiting for a slot across processes: register as a waiter with a lease, poll the store when a
// slot may have freed, give way to live waiters that rank ahead, fall back or give up on time.
import { uniqueId } from '../id.js';
import { StoreUnreachableError, TempFailError } from '../errors.js';
import { formatDuration } from '../duration.js';
import { priorityName, type PriorityRank } from '../priority.js';
import type { Store } from '../store/types.js';
import type { ClawConfig } from '../config/config.js';
import { resolveGateway, type Gateway } from './gateways.js';

/** A waiter that misses refreshes for this long stops blocking the others (the contract says 2 s). */
export const waiterLeaseMs = 1500;
/** Waiters refresh their lease at least this often. */
const pollMs = 500;
const storeRetryMs = 500;

export interface WaitProgress {
  gateway: string;
  priority: PriorityRank;
  position: number;
  waitedMs: number;
  estimateMs: number;
  reason: string;
}

export interface AcquireOptions {
  gateway: Gateway;
  priority: PriorityRank;
  /** Give up after this long; undefined = wait until admitted. */
  maxWaitMs?: number;
  clock: () => number;
  sleep: (ms: number) => Promise<void>;
  onWait?: (progress: WaitProgress) => void;
  /** Told each time the store could not be reached while waiting. */
  onStoreError?: (err: Error) => void;
  /** Stop waiting (a proxy client that went away): leave the queue at once, admit nothing, throw the reason. */
  signal?: AbortSignal;
}

export interface Admission {
  gateway: Gateway;
  admissionId?: string;
  waitedMs: number;
}

/** Why `acquire` gave up: the last answer, on the store's clock. */
export interface GaveUp {
  gaveUp: true;
  reason: 'blocked' | 'full' | 'queued';
  /** When the gateway may next admit (the block's end, or a slot's expiry). */
  freeAt: number;
  now: number;
}

/** Default patience: `low` waits 2 s, everything else until admitted. */
export function defaultMaxWait(priority: PriorityRank): number | undefined {
  return priority === 4 ? 2000 : undefined;
}

/**
 * Waits for a slot. Gives up (having left the queue) when `maxWaitMs` ran out, or at once when the
 * gateway is blocked past it: waiting for a block that outlasts the patience is pointless.
 */
export async function acquire(store: Store, options: AcquireOptions): Promise<Admission | GaveUp> {
  const { gateway, priority } = options;
  const started = options.clock();
  if (!gateway.limited) {
    await store.count(gateway.name, 'admitted');
    return { gateway, waitedMs: 0 };
  }
  // A waiter that dies without leaving stops blocking the others when its lease runs out.
  const waiterId = uniqueId();
  for (;;) {
    if (options.signal?.aborted) {
      await store.leaveQueue(gateway.name, waiterId).catch(() => undefined);
      throw options.signal.reason;
    }
    let result;
    try {
      // The wait so far goes with the request: an admission counts it in the same store step.
      result = await store.admit({ gateway, priority, waiterId, leaseMs: waiterLeaseMs, queue: true, waitedMs: options.clock() - started });
    } catch (err) {
      // A store that went away (a Redis restart) is waited for like a full window; the waiter id
      // makes the retry find an admission the lost reply carried, so nothing is admitted twice.
      if (!(err instanceof StoreUnreachableError)) throw err;
      options.onStoreError?.(err);
      const waited = options.clock() - started;
      if (options.maxWaitMs !== undefined && waited >= options.maxWaitMs) throw err;
      await options.sleep(storeRetryMs);
      continue;
    }
    const waitedMs = options.clock() - started;
    if (result.admitted) return { gateway, admissionId: result.admissionId, waitedMs };
    const remaining = options.maxWaitMs === undefined ? Infinity : options.maxWaitMs - waitedMs;
    if (remaining <= 0 || (result.reason === 'blocked' && result.wakeAt - result.now > remaining)) {
      await store.leaveQueue(gateway.name, waiterId);
      return { gaveUp: true, reason: result.reason, freeAt: result.reason === 'blocked' ? result.wakeAt : result.estimateAt, now: result.now };
    }
    options.onWait?.({
      gateway: gateway.name,
      priority,
      position: result.ahead + 1,
      waitedMs,
      estimateMs: Math.max(0, result.estimateAt - result.now),
      reason: result.reason,
    });
    const untilChange = Math.max(5, result.wakeAt - result.now + 1);
    await options.sleep(Math.min(untilChange, pollMs, remaining));
  }
}

export interface FallbackChoice {
  model: string;
  gateway: Gateway;
}

/** A fallback model and its gateway, or undefined when there is no fallback model. */
export function fallbackFor(config: ClawConfig, model: string | undefined): FallbackChoice | undefined {
  return model ? { model, gateway: resolveGateway(config, { model }) } : undefined;
}

/**
 * The admitted request is on its way: its slot's window starts now. Best effort: the slot is held
 * either way, so a store hiccup here must not fail a request that has already been sent.
 */
export function startWindow(store: Store, admission: Admission): Promise<void> {
  return admission.admissionId ? store.markSent(admission.gateway, admission.admissionId).catch(() => undefined) : Promise.resolve();
}

export interface AdmitCallOptions extends AcquireOptions {
  model?: string;
  fallback?: FallbackChoice;
  /** How the patience is named in a give-up message (default: the wait, e.g. "within 2s"). */
  patience?: string;
}

export interface CallAdmission extends Admission {
  model?: string;
  fellBack: boolean;
}

/**
 * Admission for one call: wait on the primary gateway; when patience runs out, take the fallback
 * model if its gateway has room right now, else give up (exit 75) and count it as dropped.
 */
export async function admitCall(store: Store, options: AdmitCallOptions): Promise<CallAdmission> {
  const admission = await acquire(store, options);
  if (!('gaveUp' in admission)) return { ...admission, ...(options.model ? { model: options.model } : {}), fellBack: false };
  const why = await giveUpReason(store, options, admission);
  if (options.fallback) {
    const fallback = await acquire(store, { ...options, gateway: options.fallback.gateway, maxWaitMs: 0 });
    if (!('gaveUp' in fallback)) {
      await store.count(options.gateway.name, 'fallbacks');
      return { ...fallback, model: options.fallback.model, fellBack: true };
    }
    await store.count(options.gateway.name, 'dropped');
    throw new TempFailError(`gave up: ${why} and fallback ${options.fallback.model} has no room either`);
  }
  await store.count(options.gateway.name, 'dropped');
  throw new TempFailError(
    admission.reason === 'blocked'
      ? `gave up: ${why}; retry after that, pass --fallback-model, or clear it with \`claw unblock ${options.gateway.name}\``
      : `gave up: ${why}; retry later or pass --fallback-model`,
  );
}

/** A store time as an ISO date on this process's clock (the store's timeline may differ from it). */
export function localIso(storeTime: number, storeNow: number, localNow: number): string {
  const at = localNow + (storeTime - storeNow);
  return new Date(Number.isFinite(at) ? Math.min(Math.max(at, 0), 8.64e15) : localNow).toISOString();
}

async function giveUpReason(store: Store, options: AdmitCallOptions, gaveUp: GaveUp): Promise<string> {
  const name = options.gateway.name;
  const patience = options.patience ?? `within ${formatDuration(options.maxWaitMs ?? 0)}`;
  if (gaveUp.reason !== 'blocked') return `no slot on ${name} ${patience} (${priorityName(options.priority)} priority)`;
  // Say who blocked it and when it frees: one read, on this rare path only.
  const block = (await store.gatewayState(options.gateway).catch(() => undefined))?.block;
  const until = localIso(gaveUp.freeAt, gaveUp.now, options.clock());
  const source = block ? `: ${block.origin}${block.message ? `, "${block.message}"` : ''}` : '';
  return `${name} is blocked until ${until} (in ${formatDuration(Math.max(0, gaveUp.freeAt - gaveUp.now))}${source}), past the wait allowed (${patience.replace(/^within /, '')})`;
}
