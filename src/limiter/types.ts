// The limiter's own types, apart from config: the store and the admission math take a Gateway without
// loading (or even naming) the config that a Gateway is resolved from.

/** A gateway with its limit resolved to numbers. `limit` is Infinity when it is not limited. */
export interface Gateway {
  name: string;
  limited: boolean;
  limit: number;
  windowMs: number;
  burst?: number;
  reserveLow: number;
  marginMs: number;
  /** The longest an upstream Retry-After may block this gateway (default 10 min). */
  maxRetryAfterMs: number;
  baseUrl?: string;
  apiKeyEnv?: string;
}

/** Wait-time histogram buckets (upper bounds in ms) kept as counters `wait_le_<ms>`. */
export const waitBuckets = [0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 30_000, 60_000, 120_000, 300_000, 600_000, Infinity];

/** The counter of one wait-time bucket. */
export type WaitBucketCounter = `wait_le_${number | 'inf'}`;

export function waitBucketName(ms: number): WaitBucketCounter {
  const bound = waitBuckets.find((b) => ms <= b)!;
  return bound === Infinity ? 'wait_le_inf' : `wait_le_${bound}`;
}
