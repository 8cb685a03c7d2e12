export interface BackoffPolicy {
  retries: number;
  baseMs: number;
  capMs: number;
}

export const defaultBackoff: BackoffPolicy = { retries: 3, baseMs: 1000, capMs: 60_000 };

/** Exponential backoff with full jitter: uniform in [0, min(cap, base * 2^attempt)], never below `floorMs` nor above the cap. */
export function backoffDelay(policy: BackoffPolicy, attempt: number, floorMs = 0, random = Math.random): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(attempt, 60));
  return Math.min(policy.capMs, Math.max(floorMs, Math.round(random() * ceiling)));
}

/** The longest any block may last, whoever sets it (a Retry-After, a quota): past it a gateway frees by itself. */
export const maxBlockMs = 24 * 3_600_000;
/** The default ceiling on an upstream `Retry-After` (`gateways.<name>.maxRetryAfter`). */
export const defaultMaxRetryAfterMs = 10 * 60_000;

export interface RetryAfter {
  /** How long to stay away, clamped to [0, ceiling]. */
  ms: number;
  /** What the server asked for, in ms (Infinity for an absurd value); more than `ms` when clamped. */
  askedMs: number;
}

// An IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") or one of the obsolete HTTP date forms: they
// all name a month. Date.parse alone would read "-5" or "5" as a year.
const httpDate = /\b(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\b/i;

/**
 * `Retry-After` as delay seconds or an HTTP date, clamped to [0, ceilingMs]; undefined when absent
 * or unreadable. Any input gives a finite number: huge seconds, dates in 2099 or in the past are clamped.
 */
export function parseRetryAfter(value: string | null | undefined, now: number, ceilingMs = defaultMaxRetryAfterMs): RetryAfter | undefined {
  if (!value) return undefined;
  const text = value.trim();
  let asked: number;
  if (/^\d+(\.\d+)?$/.test(text)) asked = Number(text) * 1000;
  else if (httpDate.test(text) && Number.isFinite(Date.parse(text))) asked = Date.parse(text) - now;
  else return undefined;
  if (!Number.isFinite(asked)) asked = Infinity;
  const ceiling = Math.min(Math.max(0, ceilingMs), maxBlockMs);
  return { ms: Math.round(Math.min(Math.max(0, asked), ceiling)), askedMs: Math.max(0, asked) };
}
