// What an upstream error answer means for every process: a spent quota (block until it resets), a
// rate limit (back off for Retry-After), or neither. Pure, so the rules are tested as a table.
import { maxBlockMs, parseRetryAfter } from '../limiter/backoff.js';

export type UpstreamVerdict = { kind: 'quota'; message: string; resetAt?: number } | { kind: 'rateLimited'; retryAfterMs?: number } | { kind: 'other' };

/** Bodies that say the quota, usage or spending limit is spent rather than "slow down". */
const quotaPattern =
  /insufficient_quota|exceeded your (current )?quota|quota (has been |is )?(exceeded|exhausted|used up)|(daily|weekly|monthly) (spending|usage|token) limit|spending limit|reached your (specified )?(api )?usage limits?|usage limits? (reached|exceeded|hit)|credit balance is too low|billing hard limit/i;

/** A reset further out than this is not believed (a weekly limit is the longest we know of). */
const longestResetMs = 31 * 24 * 3_600_000;

const unitMs: Record<string, number> = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000 };

/** The text of `error.message` (or `message`, or `error` as a string); else the body itself, trimmed. */
export function errorMessage(body: string): string {
  try {
    const json = JSON.parse(body) as { error?: { message?: unknown } | string; message?: unknown };
    const message = typeof json.error === 'string' ? json.error : (json.error?.message ?? json.message);
    if (typeof message === 'string' && message) return message;
  } catch {
    // not JSON: the text itself
  }
  return body.trim().slice(0, 300) || '(empty body)';
}

/** "3h 20m", "45 minutes", "2 days": the total in ms, or undefined. */
function parseSpan(text: string): number | undefined {
  let total = 0;
  let found = false;
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)\s*(d|days?|h|hrs?|hours?|m|mins?|minutes?|s|secs?|seconds?)\b/gi)) {
    total += Number(m[1]) * unitMs[m[2]![0]!.toLowerCase()]!;
    found = true;
  }
  return found ? Math.round(total) : undefined;
}

function parseInstant(value: string): number | undefined {
  if (/^\d+(\.\d+)?$/.test(value)) {
    const n = Number(value);
    // Epoch seconds or epoch ms: a value below 1e12 is seconds.
    return n < 1e12 ? Math.round(n * 1000) : Math.round(n);
  }
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : at;
}

/** When a quota answer says it resets: Retry-After, a reset field in the body, or its message. */
export function quotaResetAt(body: string, retryAfter: string | undefined, now: number): number | undefined {
  const candidates: (number | undefined)[] = [];
  const afterMs = parseRetryAfter(retryAfter, now, maxBlockMs)?.ms;
  if (afterMs !== undefined && afterMs > 0) candidates.push(now + afterMs);
  const field = /"(?:resets?_at|resetAt|resetsAt)"\s*:\s*(?:"([^"]+)"|(\d+(?:\.\d+)?))/.exec(body);
  if (field) candidates.push(parseInstant(field[1] ?? field[2]!));
  const at = /resets?\s+(?:at|on)\s+(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|UTC|[+-]\d{2}:?\d{2})?)/i.exec(body);
  if (at)
    candidates.push(
      parseInstant(
        at[1]!
          .trim()
          .replace(/\s*UTC$/i, 'Z')
          .replace(/\s+(?=Z|[+-]\d)/, '')
          .replace(' ', 'T'),
      ),
    );
  const span = /(?:try again|resets?|retry|available again)\s+(?:in|after)\s+((?:\d+(?:\.\d+)?\s*[a-z]+[\s,]*(?:and\s+)?)+)/i.exec(body);
  if (span) {
    const ms = parseSpan(span[1]!);
    if (ms !== undefined) candidates.push(now + ms);
  }
  return candidates.find((t): t is number => t !== undefined && t > now && t - now <= longestResetMs);
}

/**
 * 402 is always a spent quota; a 429 or 403 is one when its body says so. Any other 429 is a rate
 * limit (with its Retry-After when it gives one).
 */
export function classifyAnswer(status: number, body: string, retryAfter: string | undefined, now: number): UpstreamVerdict {
  const quota = status === 402 || ((status === 429 || status === 403) && quotaPattern.test(body));
  if (quota) {
    const resetAt = quotaResetAt(body, retryAfter, now);
    return { kind: 'quota', message: errorMessage(body), ...(resetAt !== undefined ? { resetAt } : {}) };
  }
  if (status === 429) {
    // The caller holds it to the gateway's maxRetryAfter.
    const retryAfterMs = parseRetryAfter(retryAfter, now, maxBlockMs)?.ms;
    return { kind: 'rateLimited', ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
  }
  return { kind: 'other' };
}

/**
 * What the proxy answers while a gateway's quota is spent: a 402 shaped like OpenAI's, since
 * OpenClaw fails over to its fallback model at once on a 402 but waits out a 429's Retry-After.
 */
export function quotaReplyBody(gateway: string, until: number, message: string): string {
  const note = `claw: gateway ${gateway} is blocked (quota spent) until ${new Date(until).toISOString()}; \`claw status\` shows the block`;
  return JSON.stringify({ error: { message: `${message} (${note})`, type: 'insufficient_quota', param: null, code: 'insufficient_quota' } });
}
