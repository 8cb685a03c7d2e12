// A gateway's block with its reason, in one place so the proxy, `claw call` and the heartbeat agree.
// lead: switch to Store.blockUntil(gateway, until, info) / GatewayState.block when merged; until then
// the reason lives in a state document next to the store's blockedUntil.
import type { Store } from '../store/types.js';
import type { Gateway } from '../limiter/gateways.js';

export type BlockReason = 'rate_limited' | 'quota';

export interface BlockInfo {
  reason: BlockReason;
  /** Who set it, e.g. `proxy@host:pid`. */
  origin: string;
  /** What upstream said (no secrets: the caller redacts). */
  message?: string;
}

export interface Block extends BlockInfo {
  until: number;
  setAt: number;
}

const blockKey = (gateway: string) => `block:${gateway}`;

function parseBlock(text: string | undefined): Block | undefined {
  if (!text) return undefined;
  try {
    return JSON.parse(text) as Block;
  } catch {
    return undefined;
  }
}

/** Every process backs off from `gateway` until `until`; a longer quota block is never shortened by a rate-limit one. */
export async function recordBlock(store: Store, gateway: string, until: number, info: BlockInfo): Promise<void> {
  // lead: switch to Store.blockUntil(info) when merged
  await store.blockUntil(gateway, until);
  const now = await store.now();
  const previous = parseBlock(await store.stateGet(blockKey(gateway)));
  if (previous && previous.until > now && previous.reason === 'quota' && info.reason !== 'quota' && previous.until >= until) return;
  await store.stateSet(blockKey(gateway), JSON.stringify({ until, reason: info.reason, origin: info.origin, ...(info.message ? { message: info.message } : {}), setAt: now }));
}

/** The gateway's block now in force, with its reason, or undefined. */
export async function currentBlock(store: Store, gateway: Gateway): Promise<Block | undefined> {
  const state = await store.gatewayState(gateway);
  if (state.blockedUntil <= state.now) return undefined;
  const doc = parseBlock(await store.stateGet(blockKey(gateway.name)));
  // The store's blockedUntil is the truth for the end (a cleared block is gone); the document adds the reason.
  if (doc && doc.until >= state.blockedUntil - 1000) return { ...doc, until: state.blockedUntil };
  return { until: state.blockedUntil, reason: 'rate_limited', origin: 'unknown', setAt: state.now };
}

/**
 * The gateway's quota block, if one is in force. Cheap when there is none (one state read, no
 * window scan), since the proxy asks before every request.
 */
export async function quotaBlock(store: Store, gateway: Gateway, clock: () => number = Date.now): Promise<Block | undefined> {
  const block = await recordedBlock(store, gateway, clock);
  return block?.reason === 'quota' ? block : undefined;
}

/** A block recorded with its reason (by the proxy), if one is in force; one state read when there is none. */
export async function recordedBlock(store: Store, gateway: Gateway, clock: () => number = Date.now): Promise<Block | undefined> {
  const doc = parseBlock(await store.stateGet(blockKey(gateway.name)));
  // A minute of slack: the store's clock may run ahead of this host's.
  if (!doc || doc.until < clock() - 60_000) return undefined;
  return currentBlock(store, gateway);
}
