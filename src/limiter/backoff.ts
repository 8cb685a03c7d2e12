export interface BackoffPolicy {
  retries: number;
  baseMs: number;
  capMs: number;
}

export const defaultBackoff: BackoffPolicy = { retries: 3, baseMs: 1000, capMs: 60_000 };

/** Exponential backoff with full jitter: uniform in [0, min(cap, base * 2^attempt)], never below `floorMs`. */
export function backoffDelay(policy: BackoffPolicy, attempt: number, floorMs = 0, random = Math.random): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** attempt);
  return Math.max(floorMs, Math.round(random() * ceiling));
}

/** `Retry-After` as delay seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null | undefined, now: number): number | undefined {
  if (!value) return undefined;
  const text = value.trim();
  if (/^\d+(\.\d+)?$/.test(text)) return Math.round(Number(text) * 1000);
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
