// Blocks (an upstream 429's Retry-After, a quota) as both stores keep them: bounded and readable
// whatever was stored, so no stored value can wedge a gateway or break a status.
import { defaultMaxRetryAfterMs, maxBlockMs } from '../limiter/backoff.js';
import { blockTextMax, type BlockInfo, type GatewayBlock } from './types.js';
import { saneTime } from './clock.js';

/** One line of at most `blockTextMax` characters, control characters removed. */
export function blockText(text: string): string {
  // eslint-disable-next-line no-control-regex
  const line = text
    .replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return line.length > blockTextMax ? `${line.slice(0, blockTextMax - 1)}…` : line;
}

export const unknownOrigin = 'not recorded';
/** What a block written by an older claw (no origin, no start) says for itself. */
export const legacyOrigin = 'set by an older claw (no origin recorded)';

export interface StoredBlock {
  until: unknown;
  setAt: unknown;
  reason?: unknown;
  origin?: unknown;
  message?: unknown;
}

/**
 * The moment a stored block really ends, at the store's `now`: never more than `maxBlockMs` after it
 * was set (a block with no start, from an older claw, lasts at most the default Retry-After ceiling
 * from now); 0 for a value that is not a time.
 */
export function blockEnd(stored: StoredBlock, now: number): number {
  const until = typeof stored.until === 'number' ? stored.until : Number(stored.until);
  if (!Number.isFinite(until) || until <= 0) return 0;
  const setAt = stored.setAt === null || stored.setAt === undefined ? undefined : Number(stored.setAt);
  const bound = setAt !== undefined && saneTime(setAt) ? Math.min(setAt, now) + maxBlockMs : now + defaultMaxRetryAfterMs;
  return Math.round(Math.min(until, bound));
}

/** The block in force at `now`, or undefined. */
export function activeBlock(stored: StoredBlock | undefined, now: number): GatewayBlock | undefined {
  if (!stored) return undefined;
  const until = blockEnd(stored, now);
  if (until <= now) return undefined;
  const setAt = Number(stored.setAt);
  const block: GatewayBlock = {
    until,
    reason: typeof stored.reason === 'string' && stored.reason ? stored.reason : 'rate_limited',
    origin: typeof stored.origin === 'string' && stored.origin ? stored.origin : legacyOrigin,
    setAt: saneTime(setAt) ? Math.min(setAt, now) : now,
  };
  if (typeof stored.message === 'string' && stored.message) block.message = stored.message;
  return block;
}

/** The info to store: defaults filled in, texts cut to one short line. */
export function storedInfo(info: BlockInfo | undefined): { reason: string; origin: string; message: string | null } {
  return {
    reason: info?.reason === 'quota' ? 'quota' : 'rate_limited',
    origin: blockText(info?.origin ?? '') || unknownOrigin,
    message: info?.message ? blockText(info.message) || null : null,
  };
}
