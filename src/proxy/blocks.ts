// A gateway's block with its reason, as the store keeps it (Store.blockUntil / GatewayState.block),
// in one place so the proxy, `claw call` and the heartbeat agree on what a quota block is.
import type { LimitStore, BlockInfo, GatewayBlock } from '../store/types.js';
import type { Gateway } from '../limiter/types.js';

export type { BlockInfo };
export type Block = GatewayBlock;

/**
 * Every process backs off from `gateway` until `until` (store clock). The store only ever moves a
 * block later, so a rate-limit block never cuts a longer quota block short.
 */
export async function recordBlock(store: LimitStore, gateway: string, until: number, info: BlockInfo): Promise<void> {
  await store.blockUntil(gateway, until, info);
}

/** The gateway's block now in force, with its reason, or undefined. */
export async function currentBlock(store: LimitStore, gateway: Gateway): Promise<Block | undefined> {
  return (await store.gatewayState(gateway)).block;
}

/** The gateway's quota block, if one is in force. */
export async function quotaBlock(store: LimitStore, gateway: Gateway): Promise<Block | undefined> {
  const block = await currentBlock(store, gateway);
  return block?.reason === 'quota' ? block : undefined;
}
